import { InfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { collectBytes, expectErrorCode, uniqueName, useFreshAdapter } from "../src/index.js";

/** What one failed expectation says, for checking that the helper fails for the right reason. */
async function failureOf(action: Promise<unknown>): Promise<Error> {
  try {
    await action;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the helper to fail");
}

describe("expectErrorCode", () => {
  it("returns the error when the promise or function fails with that code", async () => {
    const error = new InfrastructureError("NOT_FOUND", "no such key");
    expect(await expectErrorCode(Promise.reject(error), "NOT_FOUND")).toBe(error);
    expect(
      await expectErrorCode(() => {
        throw error;
      }, "NOT_FOUND"),
    ).toBe(error);
  });

  it("fails when nothing is thrown, naming the code it expected", async () => {
    const failure = await failureOf(expectErrorCode(Promise.resolve("fine"), "CONFLICT"));
    expect(failure.message).toContain(
      "expected an InfrastructureError with code CONFLICT, but nothing was thrown",
    );
  });

  it("fails for an error outside the taxonomy, keeping it as the cause", async () => {
    const plain = new Error("boom");
    const failure = await failureOf(expectErrorCode(Promise.reject(plain), "CONFLICT"));
    expect(failure.message).toBe("expected an InfrastructureError with code CONFLICT, got: Error: boom");
    expect(failure.cause).toBe(plain);
  });

  it("fails for another code, quoting the error's message", async () => {
    const failure = await failureOf(
      expectErrorCode(Promise.reject(new InfrastructureError("INTERNAL", "disk on fire")), "CONFLICT"),
    );
    expect(failure.message).toContain("error message: disk on fire");
    expect(failure.message).toContain("CONFLICT");
  });
});

describe("uniqueName", () => {
  it("is the prefix, a time and random hex, lower case, never the same twice", () => {
    const names = new Set(Array.from({ length: 50 }, () => uniqueName("Run")));
    expect(names.size).toBe(50);
    for (const name of names) {
      expect(name).toMatch(/^run_[0-9a-z]+_[0-9a-f]{8}$/);
      expect(name.length).toBeLessThanOrEqual(40);
    }
  });
});

describe("collectBytes", () => {
  it("joins strings and byte chunks in order", async () => {
    async function* chunks() {
      yield "ab";
      yield new Uint8Array([0x63, 0x64]);
      yield "é";
    }
    expect((await collectBytes(chunks())).toString("utf8")).toBe("abcdé");
  });
});

describe("useFreshAdapter", () => {
  const events: string[] = [];
  let made = 0;
  const makeAdapter = () => {
    made += 1;
    const id = made;
    return { id, close: async () => void events.push(`close ${id}`) };
  };

  describe("without destroy", () => {
    const adapter = useFreshAdapter({ create: async () => makeAdapter() });

    it("hands the test the adapter create made", () => {
      expect(adapter().id).toBe(1);
    });

    it("gives each test a fresh adapter and closes the last one", () => {
      expect(adapter().id).toBe(2);
      expect(events).toEqual(["close 1"]);
    });
  });

  describe("with destroy", () => {
    const adapter = useFreshAdapter({
      create: async () => makeAdapter(),
      destroy: async (done) => void events.push(`destroy ${done.id}`),
    });

    it("destroys instead of closing", () => {
      expect(adapter().id).toBe(3);
      expect(events).toEqual(["close 1", "close 2"]);
    });
  });

  describe("afterwards", () => {
    it("closed or destroyed each adapter once, after its test", () => {
      expect(events).toEqual(["close 1", "close 2", "destroy 3"]);
    });
  });
});

describe("useFreshAdapter outside a test", () => {
  const adapter = useFreshAdapter({ create: async () => ({ close: async () => undefined }) });
  let outside: unknown;
  try {
    adapter();
  } catch (error) {
    outside = error;
  }

  it("refuses to hand out an adapter while tests are being collected", () => {
    expect((outside as Error | undefined)?.message).toBe("the adapter is only available inside a test");
  });
});
