import { createHash } from "node:crypto";
import type { ObjectStorage, ObjectStorageCapabilities } from "@proj/ports";
import { expect } from "vitest";
import type { ContractHarness } from "../harness.js";

/**
 * The harness gives a storage over a fresh, empty bucket, prefix or folder, and declares what the
 * adapter supports; the suite checks the declaration against `storage.capabilities`. Some tests
 * close the storage themselves, so `destroy` must also accept an already closed one.
 */
export interface ObjectStorageHarness extends ContractHarness<ObjectStorage> {
  capabilities: ObjectStorageCapabilities;
  /** Size of the streamed body in the large-object test. Default 8 MiB. */
  largeObjectBytes?: number;
}

export type StorageGetter = () => ObjectStorage;

export const MiB = 1024 * 1024;

/** Deterministic bytes, different for each `seed`, so a mixed-up body never compares equal. */
export function patternBytes(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return bytes;
}

/** Yields `total` bytes of `patternBytes` in chunks, generated lazily. */
export async function* patternChunks(total: number, chunkSize: number, seed = 0): AsyncGenerator<Uint8Array> {
  const chunk = patternBytes(chunkSize, seed);
  for (let sent = 0; sent < total; sent += chunkSize) {
    yield chunk.slice(0, Math.min(chunkSize, total - sent));
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Yields `before` chunks, then throws: a body that breaks in the middle of an upload. */
export async function* failingBody(before: number, chunkSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < before; i++) yield patternBytes(chunkSize, i);
  throw new Error("the body source broke midway");
}

export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.from(actual).equals(Buffer.from(expected))).toBe(true);
}

export async function allKeys(storage: ObjectStorage, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const summary of storage.list(prefix === undefined ? {} : { prefix })) keys.push(summary.key);
  return keys;
}

/** Ascending UTF-8 byte order, as the contract requires of `list`. */
export function byteOrder(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inBatches<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}
