import { randomBytes } from "node:crypto";
import { type ErrorCode, isInfrastructureError } from "@proj/ports";
import { afterEach, beforeEach, expect } from "vitest";

/**
 * What an adapter hands a contract suite.
 *
 * `create` makes a fresh, empty adapter with a namespace of its own (bucket, schema, key prefix,
 * folder), so tests never see each other's data, nor data left by an earlier run. `destroy`
 * removes that namespace and closes the adapter; without it the suite calls `close()`.
 */
export interface ContractHarness<Adapter> {
  create(): Promise<Adapter>;
  destroy?(adapter: Adapter): Promise<void>;
}

/**
 * Registers hooks that give each test its own adapter, and returns a getter for the current one.
 * Call it inside the suite's `describe`.
 */
export function useFreshAdapter<Adapter extends { close(): Promise<void> }>(
  harness: ContractHarness<Adapter>,
): () => Adapter {
  let current: Adapter | undefined;
  beforeEach(async () => {
    current = await harness.create();
  });
  afterEach(async () => {
    const adapter = current;
    current = undefined;
    if (adapter === undefined) return;
    if (harness.destroy) await harness.destroy(adapter);
    else await adapter.close();
  });
  return () => {
    if (current === undefined) throw new Error("the adapter is only available inside a test");
    return current;
  };
}

/** Asserts that `action` rejects (or throws) a taxonomy error with `code`, and returns the error. */
export async function expectErrorCode(action: Promise<unknown> | (() => unknown), code: ErrorCode) {
  let caught: unknown;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected an InfrastructureError with code ${code}, but nothing was thrown`).toBeDefined();
  if (!isInfrastructureError(caught)) {
    throw new Error(`expected an InfrastructureError with code ${code}, got: ${String(caught)}`, {
      cause: caught,
    });
  }
  expect(caught.code, `error message: ${caught.message}`).toBe(code);
  return caught;
}

/** A name no earlier or concurrent run uses: `prefix_<time>_<random>`, lower case, ≤ 40 chars. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`.toLowerCase();
}

/** Resolves after `ms` milliseconds of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Concatenates a stream (Node or async iterable) into one buffer. */
export async function collectBytes(source: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}
