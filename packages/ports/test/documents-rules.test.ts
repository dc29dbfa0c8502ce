import { describe, expect, it } from "vitest";
import {
  copyDocumentValue,
  decodeFindCursor,
  documentSortKeys,
  encodeFindCursor,
  isInfrastructureError,
  parseFieldPath,
  splitDocumentId,
  validateCollectionName,
  validateFindLimit,
} from "../src/index.js";

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return isInfrastructureError(error) ? error.code : "not a taxonomy error";
  }
}

describe("validateCollectionName", () => {
  const cases: [name: unknown, code: string | undefined][] = [
    ["orders", undefined],
    ["tenant-1.orders_v2", undefined],
    ["x".repeat(120), undefined],
    ["", "INVALID_ARGUMENT"],
    ["x".repeat(121), "INVALID_ARGUMENT"],
    ["system.users", "INVALID_ARGUMENT"],
    ["a b", "INVALID_ARGUMENT"],
    ["a$b", "INVALID_ARGUMENT"],
    [42, "INVALID_ARGUMENT"],
  ];
  for (const [name, code] of cases) {
    it(`${code === undefined ? "accepts" : "refuses"} ${JSON.stringify(name)?.slice(0, 20)}`, () => {
      expect(codeOf(() => validateCollectionName(name))).toBe(code);
    });
  }
});

describe("validateFindLimit", () => {
  const cases: [limit: number | undefined, expected: number | string][] = [
    [undefined, 100],
    [1, 1],
    [1000, 1000],
    [0, "INVALID_ARGUMENT"],
    [1001, "INVALID_ARGUMENT"],
    [1.5, "INVALID_ARGUMENT"],
  ];
  for (const [limit, expected] of cases) {
    it(`gives ${expected} for a limit of ${limit}`, () => {
      if (typeof expected === "number") expect(validateFindLimit(limit)).toBe(expected);
      else expect(codeOf(() => validateFindLimit(limit))).toBe(expected);
    });
  }
});

describe("splitDocumentId", () => {
  it("splits a given id from the fields", () => {
    expect(splitDocumentId({ id: "a1", name: "x" }, "insertOne")).toEqual({
      id: "a1",
      fields: { name: "x" },
    });
    expect(splitDocumentId({ name: "x" }, "insertOne")).toEqual({ id: undefined, fields: { name: "x" } });
  });

  const refused: [label: string, document: unknown][] = [
    ["an empty id", { id: "" }],
    ["a numeric id", { id: 7 }],
    ["an array", [{ id: "a" }]],
    ["a class instance", new Map()],
    ["null", null],
  ];
  for (const [label, document] of refused) {
    it(`refuses ${label}`, () => {
      expect(codeOf(() => splitDocumentId(document, "insertOne"))).toBe("INVALID_ARGUMENT");
    });
  }
});

describe("parseFieldPath", () => {
  const cases: [field: unknown, expected: string[] | string][] = [
    ["name", ["name"]],
    ["address.city", ["address", "city"]],
    ["tags.0", ["tags", "0"]],
    ["", "INVALID_ARGUMENT"],
    ["a..b", "INVALID_ARGUMENT"],
    ["a.", "INVALID_ARGUMENT"],
    ["$where", "INVALID_ARGUMENT"],
    ["a.$b", "INVALID_ARGUMENT"],
    ["a\0b", "INVALID_ARGUMENT"],
    [7, "INVALID_ARGUMENT"],
  ];
  for (const [field, expected] of cases) {
    it(`gives ${JSON.stringify(expected)} for the field ${JSON.stringify(field)}`, () => {
      if (Array.isArray(expected)) expect(parseFieldPath(field, "find")).toEqual(expected);
      else expect(codeOf(() => parseFieldPath(field, "find"))).toBe(expected);
    });
  }
});

describe("copyDocumentValue", () => {
  it("returns a deep copy that shares nothing with the input, dropping undefined fields", () => {
    const input = { a: [1, { b: "x" }], when: new Date(5), gone: undefined, nested: { n: null } };
    const copy = copyDocumentValue(input, "doc") as typeof input;
    expect(copy).toEqual({ a: [1, { b: "x" }], when: new Date(5), nested: { n: null } });
    expect(Object.hasOwn(copy, "gone")).toBe(false);
    expect(copy.a).not.toBe(input.a);
    expect(copy.a[1]).not.toBe(input.a[1]);
    expect(copy.when).not.toBe(input.when);
  });

  it("keeps a __proto__ field as an own field, without changing the prototype", () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
    const copy = copyDocumentValue(input, "doc") as Record<string, unknown>;
    expect(Object.hasOwn(copy, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
  });

  const refused: [label: string, value: unknown][] = [
    ["NaN", { n: Number.NaN }],
    ["Infinity", { n: Number.POSITIVE_INFINITY }],
    ["an invalid Date", { d: new Date(Number.NaN) }],
    ["an undefined array item", { a: [1, undefined] }],
    ["a class instance", { m: new Map() }],
    ["a function", { f: () => 1 }],
    ["a bigint", { b: 1n }],
    ["a field starting with $", { $set: 1 }],
    ["a dotted field", { "a.b": 1 }],
    ["an empty field name", { "": 1 }],
    ["a NUL in a nested field name", { a: { "x\0": 1 } }],
  ];
  for (const [label, value] of refused) {
    it(`refuses ${label}`, () => {
      expect(codeOf(() => copyDocumentValue(value, "doc"))).toBe("INVALID_ARGUMENT");
    });
  }

  it("accepts $ and dotted names in a filter operand, but still no NUL", () => {
    expect(copyDocumentValue({ $gt: 1, "a.b": 2 }, "filter", true)).toEqual({ $gt: 1, "a.b": 2 });
    expect(codeOf(() => copyDocumentValue({ "a\0": 1 }, "filter", true))).toBe("INVALID_ARGUMENT");
  });
});

describe("documentSortKeys", () => {
  it("keeps the given order and appends id ascending as the tie-breaker", () => {
    expect(
      documentSortKeys(
        [
          { field: "age", direction: "desc" },
          { field: "name", direction: "asc" },
        ],
        "find",
      ),
    ).toEqual([
      { field: "age", descending: true },
      { field: "name", descending: false },
      { field: "id", descending: false },
    ]);
    expect(documentSortKeys(undefined, "find")).toEqual([{ field: "id", descending: false }]);
  });

  it("does not append id when the sort names it", () => {
    expect(documentSortKeys([{ field: "id", direction: "desc" }], "find")).toEqual([
      { field: "id", descending: true },
    ]);
  });

  const refused: [label: string, sort: unknown][] = [
    [
      "a field named twice",
      [
        { field: "a", direction: "asc" },
        { field: "a", direction: "desc" },
      ],
    ],
    ["an unknown direction", [{ field: "a", direction: "up" }]],
  ];
  for (const [label, sort] of refused) {
    it(`refuses ${label}`, () => {
      expect(codeOf(() => documentSortKeys(sort as never, "find"))).toBe("INVALID_ARGUMENT");
    });
  }
});

describe("find cursors", () => {
  const keys = documentSortKeys(
    [
      { field: "name", direction: "asc" },
      { field: "at", direction: "desc" },
    ],
    "find",
  );

  it("round-trips the sort values, Dates and unicode included", () => {
    const values = ["Zoë 😀", new Date(1_700_000_000_000), "id-1"];
    const cursor = encodeFindCursor(keys, values);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeFindCursor(cursor, keys)).toEqual(values);
  });

  it("refuses a cursor from a different sort", () => {
    const other = documentSortKeys([{ field: "name", direction: "desc" }], "find");
    const cursor = encodeFindCursor(other, ["a", "id-1"]);
    expect(() => decodeFindCursor(cursor, keys)).toThrow(/different sort/);
  });

  for (const [label, cursor] of [
    ["not base64", "!!!"],
    ["not JSON", btoa("nope")],
    ["the wrong shape", btoa(JSON.stringify({ s: [], x: 1 }))],
    ["truncated", encodeFindCursor(keys, ["a", new Date(0), "id"]).slice(0, -4)],
  ] as const) {
    it(`refuses a cursor that is ${label}`, () => {
      expect(codeOf(() => decodeFindCursor(cursor, keys))).toBe("INVALID_ARGUMENT");
    });
  }
});

describe("document rules, exactly", () => {
  function errorOf(action: () => unknown) {
    try {
      action();
    } catch (error) {
      return error;
    }
    throw new Error("expected a throw");
  }

  it("refusals are INVALID_ARGUMENT, not retryable, and say what is wrong where", () => {
    const cases: [() => unknown, string][] = [
      [() => validateFindLimit(0), "find: limit must be an integer from 1 to"],
      [() => copyDocumentValue([1, undefined], "insert doc"), "insert doc[1] is undefined"],
      [() => copyDocumentValue({ a: Number.NaN }, "insert doc"), "insert doc.a is not a finite number"],
      [() => copyDocumentValue({ a: new Date(Number.NaN) }, "insert doc"), "insert doc.a is an invalid Date"],
      [() => copyDocumentValue({ a: { b: () => 1 } }, "insert doc"), "insert doc.a.b holds a function"],
      [() => copyDocumentValue(new Map(), "insert doc"), "insert doc is not a plain object"],
      [() => copyDocumentValue({ "a\0": 1 }, "filter", true), "filter: a key contains NUL"],
      [
        () => documentSortKeys([{ field: "a", direction: "up" as never }], "find"),
        'find: sort direction must be "asc" or "desc"',
      ],
      [
        () =>
          documentSortKeys(
            [
              { field: "a", direction: "asc" },
              { field: "a", direction: "desc" },
            ],
            "find",
          ),
        "find: sort names a twice",
      ],
    ];
    for (const [action, message] of cases) {
      const error = errorOf(action);
      expect(isInfrastructureError(error, "INVALID_ARGUMENT"), String(error)).toBe(true);
      expect((error as Error).message).toContain(message);
      expect((error as { retryable: boolean }).retryable).toBe(false);
    }
  });

  it("stores a __proto__ key as an ordinary, enumerable, writable field", () => {
    const copy = copyDocumentValue(JSON.parse('{"__proto__": {"polluted": true}}'), "doc", true) as Record<
      string,
      unknown
    >;
    expect(Object.keys(copy)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    Reflect.set(copy, "__proto__", 1);
    expect(Object.getOwnPropertyDescriptor(copy, "__proto__")).toMatchObject({ value: 1, enumerable: true });
  });

  it("a cursor round-trips its values and refuses another sort, a damaged body or a wrong count", () => {
    const keys = documentSortKeys([{ field: "at", direction: "desc" }], "find");
    const at = new Date("2024-01-02T03:04:05.000Z");
    const cursor = encodeFindCursor(keys, [at, "doc-1"]);
    expect(decodeFindCursor(cursor, keys)).toEqual([at, "doc-1"]);
    const ascending = documentSortKeys([{ field: "at", direction: "asc" }], "find");
    expect((errorOf(() => decodeFindCursor(cursor, ascending)) as Error).message).toBe(
      "find: the cursor belongs to a different sort",
    );
    const encode = (body: unknown) => Buffer.from(JSON.stringify(body)).toString("base64url");
    const signature = ["at:desc", "id:asc"];
    for (const body of [
      { s: signature, v: [{ d: 1 }] },
      { s: signature, v: [{ d: 1 }, { x: 1 }] },
      { s: signature, v: [{ d: 1 }, "raw"] },
      { s: signature },
      { v: [] },
      [signature, []],
    ]) {
      const error = errorOf(() => decodeFindCursor(encode(body), keys));
      expect((error as Error).message, JSON.stringify(body)).toBe("find: the cursor is not valid");
    }
    expect((errorOf(() => decodeFindCursor("%%%", keys)) as Error).message).toBe(
      "find: the cursor is not valid",
    );
  });
});
