import { getEventListeners } from "node:events";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  abortable,
  compareObjectKeys,
  decodeKeyCursor,
  destroyOnAbort,
  encodeKeyCursor,
  isInfrastructureError,
  listAllPages,
  type ObjectBodySource,
  type ObjectSummary,
  objectBodyChunks,
  type Page,
  resolveByteRange,
  utf8ByteLength,
  validateByteRange,
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

describe("resolveByteRange", () => {
  const cases: [
    label: string,
    range: { start: number; end?: number } | undefined,
    size: number,
    expected: unknown,
  ][] = [
    ["no range", undefined, 10, undefined],
    ["a range inside the object", { start: 2, end: 4 }, 10, { start: 2, end: 4 }],
    ["an open end", { start: 3 }, 10, { start: 3, end: 9 }],
    ["an end past the object, clamped", { start: 3, end: 99 }, 10, { start: 3, end: 9 }],
    ["the last byte", { start: 9, end: 9 }, 10, { start: 9, end: 9 }],
    ["any range of an empty object, empty", { start: 0 }, 0, { start: 0, end: -1 }],
    ["a start past the end", { start: 10 }, 10, "INVALID_ARGUMENT"],
    ["an end before the start", { start: 5, end: 2 }, 10, "INVALID_ARGUMENT"],
    ["a negative start", { start: -1 }, 10, "INVALID_ARGUMENT"],
    ["a fractional start", { start: 1.5 }, 10, "INVALID_ARGUMENT"],
    ["a fractional end", { start: 1, end: 2.5 }, 10, "INVALID_ARGUMENT"],
  ];
  for (const [label, range, size, expected] of cases) {
    it(`resolves ${label}`, () => {
      if (typeof expected === "string")
        expect(codeOf(() => resolveByteRange(range, size, "k"))).toBe(expected);
      else expect(resolveByteRange(range, size, "k")).toEqual(expected);
    });
  }

  it("checks only the shape without a size", () => {
    expect(codeOf(() => validateByteRange({ start: 10 ** 12 }, "k"))).toBeUndefined();
    expect(codeOf(() => validateByteRange({ start: 2, end: 1 }, "k"))).toBe("INVALID_ARGUMENT");
  });
});

describe("listAllPages", () => {
  function summary(key: string): ObjectSummary {
    return { key, size: 0, etag: key, lastModified: new Date(0) };
  }

  it("yields every page in turn, passing the cursor and the caller's options on", async () => {
    const calls: unknown[] = [];
    const pages: Record<string, Page<ObjectSummary>> = {
      first: { items: [summary("a"), summary("b")], nextCursor: "c1" },
      c1: { items: [summary("c")], nextCursor: "c2" },
      c2: { items: [] },
    };
    const keys: string[] = [];
    for await (const item of listAllPages(
      async (options) => {
        calls.push(options);
        return pages[options.after ?? "first"] as Page<ObjectSummary>;
      },
      { prefix: "p/", pageSize: 2 },
    )) {
      keys.push(item.key);
    }
    expect(keys).toEqual(["a", "b", "c"]);
    expect(calls).toEqual([
      { prefix: "p/", pageSize: 2 },
      { prefix: "p/", pageSize: 2, after: "c1" },
      { prefix: "p/", pageSize: 2, after: "c2" },
    ]);
  });

  it("fetches the next page only when the consumer reaches it", async () => {
    let calls = 0;
    const listing = listAllPages(async () => {
      calls += 1;
      return { items: [summary(`k${calls}`)], nextCursor: "more" };
    });
    for await (const _item of listing) break;
    expect(calls).toBe(1);
  });
});

describe("destroyOnAbort", () => {
  it("fails the stream with CANCELLED when the signal fires", async () => {
    const controller = new AbortController();
    const body = destroyOnAbort(new Readable({ read() {} }), controller.signal, "get of x");
    const failed = new Promise((resolve) => body.once("error", resolve));
    controller.abort();
    expect(await failed).toMatchObject({ code: "CANCELLED", message: "get of x was cancelled" });
  });

  it("fails the stream at once for a signal that already fired", async () => {
    const body = destroyOnAbort(new Readable({ read() {} }), AbortSignal.abort(), "get of x");
    const error = await new Promise((resolve) => body.once("error", resolve));
    expect(isInfrastructureError(error, "CANCELLED")).toBe(true);
  });

  it("stops listening once the stream closes", async () => {
    const controller = new AbortController();
    const body = destroyOnAbort(Readable.from(["a"]), controller.signal, "get");
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    for await (const _chunk of body) {
      // drain to the end, which closes the stream
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});

describe("key cursors", () => {
  for (const key of ["a", "photos/2024/a b.jpg", "日本/😀", "k".repeat(1024)]) {
    it(`round-trips ${JSON.stringify(key.slice(0, 20))} through a URL-safe cursor`, () => {
      const cursor = encodeKeyCursor(key);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeKeyCursor(cursor)).toBe(key);
    });
  }

  it("encodes like Buffer's base64url, so cursors from earlier versions still work", () => {
    expect(encodeKeyCursor("日本/😀 ~?")).toBe(Buffer.from("日本/😀 ~?", "utf8").toString("base64url"));
  });

  for (const [label, cursor] of [
    ["empty", ""],
    ["not base64url", "a+b/"],
    ["padded", `${encodeKeyCursor("ab")}==`],
    ["not UTF-8", Buffer.from([0xff, 0xfe]).toString("base64url")],
    ["not a string", 42],
  ] as const) {
    it(`refuses a cursor that is ${label}`, () => {
      expect(codeOf(() => decodeKeyCursor(cursor))).toBe("INVALID_ARGUMENT");
    });
  }
});

describe("object storage rules, exactly", () => {
  function errorOf(action: () => unknown) {
    try {
      action();
    } catch (error) {
      return error as { code: string; message: string; retryable: boolean; details: Record<string, unknown> };
    }
    throw new Error("expected a throw");
  }

  it("counts UTF-8 bytes like an encoder at every boundary", () => {
    const encoder = new TextEncoder();
    for (const text of [
      "\u007f",
      "\u0080",
      "\u07ff",
      "\u0800",
      "\ud7ff",
      "\ue000",
      "\uffff",
      "😀",
      "\u{10ffff}",
      "\udbff\udfff",
      "a\u0080\u0800😀",
    ]) {
      expect(utf8ByteLength(text), JSON.stringify(text)).toBe(encoder.encode(text).length);
    }
    // Lone surrogates: the 3 bytes of the replacement character.
    expect(utf8ByteLength("\ud800")).toBe(3);
    expect(utf8ByteLength("\udc00")).toBe(3);
    expect(utf8ByteLength("\ud800x")).toBe(4);
    expect(utf8ByteLength("\udc00\ud800")).toBe(6);
  });

  it("orders keys by their UTF-8 bytes across the surrogate ranges", () => {
    const keys = ["\u{103ff}", "\uffff", "\u{10000}", "\ue000", "\ud7ff", "\u0080", "\u007f", "\u{10ffff}"];
    const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keys].sort(compareObjectKeys)).toEqual(byBytes);
  });

  it("refusals name the key, the limit or the field, and are not retryable", () => {
    const long = errorOf(() => validateObjectKey("é".repeat(513), "source key"));
    expect(long).toMatchObject({
      code: "INVALID_ARGUMENT",
      retryable: false,
      message: "source key is 1026 UTF-8 bytes long, more than 1024",
      details: { key: "é".repeat(513) },
    });
    expect(errorOf(() => validateObjectKey("a\u0001b"))).toMatchObject({
      message: 'object key "a\\u0001b" holds a NUL or control character',
      details: { key: "a\u0001b" },
    });
    expect(errorOf(() => validateObjectKey(""))).toMatchObject({
      message: "object key must be a non-empty string",
    });
    expect(errorOf(() => validateObjectMetadata({ Bad: "x" }))).toMatchObject({
      details: { metadataKey: "Bad" },
    });
    expect(errorOf(() => validateObjectMetadata({ ok: "\u0001" }))).toMatchObject({
      message: 'metadata value of "ok" must be printable ASCII',
      details: { metadataKey: "ok" },
    });
    expect(errorOf(() => validateListPageSize(0))).toMatchObject({
      message: "list page size must be an integer from 1 to 1000",
      details: { pageSize: 0 },
    });
    expect(errorOf(() => validateByteRange({ start: 5, end: 2 }, "k"))).toMatchObject({
      message: 'range {"start":5,"end":2} of object "k" is not valid',
      details: { key: "k" },
    });
    expect(errorOf(() => resolveByteRange({ start: 9 }, 4, "k"))).toMatchObject({
      details: { key: "k", size: 4 },
    });
  });

  it("a range without an end runs to the last byte", () => {
    expect(resolveByteRange({ start: 1 }, 4, "k")).toEqual({ start: 1, end: 3 });
  });

  it("a key cursor refuses an empty cursor and anything it did not make", () => {
    expect(decodeKeyCursor(encodeKeyCursor("a/b"))).toBe("a/b");
    for (const cursor of ["", "YS9i=", "!!", 7]) {
      expect(errorOf(() => decodeKeyCursor(cursor))).toMatchObject({
        message: "object list cursor is not valid",
      });
    }
  });
});
