import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  abortable,
  compareObjectKeys,
  isInfrastructureError,
  type ObjectBodySource,
  objectBodyChunks,
  utf8ByteLength,
  validateListPageSize,
  validateObjectKey,
  validateObjectMetadata,
} from "../src/index.js";

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return isInfrastructureError(error) ? error.code : "not a taxonomy error";
  }
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

describe("utf8ByteLength", () => {
  for (const text of [
    "",
    "abc",
    "é",
    "€",
    "日本語",
    "😀",
    "a😀b",
    "\ud800",
    "x\udc00",
    "\ud800\ud800",
    "😀\ud83d",
  ]) {
    it(`counts ${JSON.stringify(text)} as an encoder would`, () => {
      expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, "utf8"));
    });
  }
});

describe("validateObjectKey", () => {
  const cases: [label: string, key: unknown, code: string | undefined][] = [
    ["a plain key", "photos/2024/a.jpg", undefined],
    ["spaces, unicode and dots", "a b/日本/../😀.txt", undefined],
    ["a key of exactly 1024 bytes", "k".repeat(1024), undefined],
    ["512 two-byte characters", "é".repeat(512), undefined],
    ["an empty key", "", "INVALID_ARGUMENT"],
    ["a key that is not a string", 42, "INVALID_ARGUMENT"],
    ["a key of 1025 bytes", "k".repeat(1025), "INVALID_ARGUMENT"],
    ["513 two-byte characters", "é".repeat(513), "INVALID_ARGUMENT"],
    ["a NUL", "a\u0000b", "INVALID_ARGUMENT"],
    ["a newline", "a\nb", "INVALID_ARGUMENT"],
    ["DEL", "a\u007fb", "INVALID_ARGUMENT"],
    ["a C1 control", "a\u0085b", "INVALID_ARGUMENT"],
  ];
  for (const [label, key, code] of cases) {
    it(`${code === undefined ? "accepts" : "refuses"} ${label}`, () => {
      expect(codeOf(() => validateObjectKey(key))).toBe(code);
    });
  }

  it("names the key the caller describes in the message", () => {
    expect(() => validateObjectKey("", "source key")).toThrow(/^source key must be a non-empty string$/);
  });
});

describe("validateObjectMetadata", () => {
  const cases: [label: string, metadata: Record<string, string> | undefined, code: string | undefined][] = [
    ["no metadata", undefined, undefined],
    ["lower-case keys with digits and dashes", { "x-1": "v", abc: "" }, undefined],
    ["printable ASCII values", { a: " !~ tilde and space " }, undefined],
    ["an upper-case key", { Upper: "v" }, "INVALID_ARGUMENT"],
    ["an underscore in a key", { a_b: "v" }, "INVALID_ARGUMENT"],
    ["an empty key", { "": "v" }, "INVALID_ARGUMENT"],
    ["a non-ASCII value", { a: "café" }, "INVALID_ARGUMENT"],
    ["a newline in a value", { a: "x\ny" }, "INVALID_ARGUMENT"],
    ["a value that is not a string", { a: 1 as unknown as string }, "INVALID_ARGUMENT"],
  ];
  for (const [label, metadata, code] of cases) {
    it(`${code === undefined ? "accepts" : "refuses"} ${label}`, () => {
      expect(codeOf(() => validateObjectMetadata(metadata))).toBe(code);
    });
  }

  it("returns a copy the caller can no longer change", () => {
    const metadata = { a: "1" };
    const copy = validateObjectMetadata(metadata);
    metadata.a = "2";
    expect(copy).toEqual({ a: "1" });
  });
});

describe("validateListPageSize", () => {
  const cases: [pageSize: number | undefined, expected: number | string][] = [
    [undefined, 1000],
    [1, 1],
    [1000, 1000],
    [0, "INVALID_ARGUMENT"],
    [1001, "INVALID_ARGUMENT"],
    [2.5, "INVALID_ARGUMENT"],
    [Number.NaN, "INVALID_ARGUMENT"],
  ];
  for (const [pageSize, expected] of cases) {
    it(`gives ${expected} for a page size of ${pageSize}`, () => {
      if (typeof expected === "number") expect(validateListPageSize(pageSize)).toBe(expected);
      else expect(codeOf(() => validateListPageSize(pageSize))).toBe(expected);
    });
  }
});

describe("compareObjectKeys", () => {
  const keys = [
    "",
    "a",
    "a/b",
    "ab",
    "B",
    "é",
    "\u{ff5e}",
    "\uffff",
    "😀",
    "😀a",
    "\u{10ffff}",
    "a b",
    "a\u00a0",
  ];

  it("orders keys by their UTF-8 bytes", () => {
    const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...keys].sort(compareObjectKeys)).toEqual(byBytes);
  });

  it("puts characters above U+FFFF after U+E000 to U+FFFF, unlike code-unit order", () => {
    expect(compareObjectKeys("😀", "\uffff")).toBeGreaterThan(0);
    expect("😀" < "\uffff").toBe(true);
  });

  it("gives zero only for equal keys, and a prefix first", () => {
    expect(compareObjectKeys("abc", "abc")).toBe(0);
    expect(compareObjectKeys("ab", "abc")).toBeLessThan(0);
    expect(compareObjectKeys("abc", "ab")).toBeGreaterThan(0);
  });
});

describe("abortable", () => {
  it("settles like the promise when no signal fires", async () => {
    await expect(abortable(Promise.resolve(7), new AbortController().signal, "read")).resolves.toBe(7);
    await expect(abortable(Promise.reject(new Error("boom")), undefined, "read")).rejects.toThrow("boom");
  });

  it("rejects with CANCELLED as soon as the signal fires, while the promise stays pending", async () => {
    const controller = new AbortController();
    const pending = abortable(new Promise<never>(() => {}), controller.signal, "read of x");
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "CANCELLED", message: "read of x was cancelled" });
  });

  it("rejects with TIMEOUT for a timeout signal that already fired, swallowing the late rejection", async () => {
    const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("late")), 5));
    await expect(
      abortable(late, AbortSignal.abort(new DOMException("t", "TimeoutError")), "read"),
    ).rejects.toMatchObject({ code: "TIMEOUT" });
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
});

describe("objectBodyChunks", () => {
  const shapes: [label: string, make: () => ObjectBodySource][] = [
    ["a string", () => "héllo"],
    ["bytes", () => new TextEncoder().encode("héllo")],
    ["a Node stream", () => Readable.from([Buffer.from("hé"), Buffer.from("llo")])],
    ["a Node stream with an encoding", () => Readable.from([Buffer.from("héllo")]).setEncoding("utf8")],
    [
      "an async iterable",
      () =>
        (async function* () {
          yield new TextEncoder().encode("hé");
          yield "llo";
        })(),
    ],
    [
      "a Web stream",
      () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("hél"));
            controller.enqueue(new TextEncoder().encode("lo"));
            controller.close();
          },
        }),
    ],
  ];
  for (const [label, make] of shapes) {
    it(`yields the bytes of ${label}`, async () => {
      expect(await collect(objectBodyChunks(make(), undefined, "put"))).toBe("héllo");
    });
  }

  it("rejects at once when the signal fires while the source is stalled, and releases it", async () => {
    const controller = new AbortController();
    let released = false;
    const stalled = new ReadableStream<Uint8Array>({
      start(stream) {
        stream.enqueue(new Uint8Array([1]));
      },
      cancel() {
        released = true;
      },
    });
    const chunks = objectBodyChunks(stalled, controller.signal, "put of x");
    expect((await chunks.next()).value).toEqual(new Uint8Array([1]));
    const next = chunks.next();
    controller.abort();
    await expect(next).rejects.toMatchObject({ code: "CANCELLED" });
    await new Promise((resolve) => setImmediate(resolve));
    expect(released).toBe(true);
  });

  it("destroys a Node stream the consumer stops reading", async () => {
    const source = Readable.from(["a", "b", "c"]);
    for await (const _chunk of objectBodyChunks(source, undefined, "put")) break;
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.destroyed).toBe(true);
  });

  it("does not start reading when the signal has already fired", async () => {
    let pulled = false;
    const source = (async function* () {
      pulled = true;
      yield new Uint8Array([1]);
    })();
    await expect(collect(objectBodyChunks(source, AbortSignal.abort(), "put"))).rejects.toMatchObject({
      code: "CANCELLED",
    });
    expect(pulled).toBe(false);
  });
});
