import { describe, expect, it } from "vitest";
import { toBase64Url } from "../src/base64url.js";
import {
  checkDocumentSize,
  copyDocumentValue,
  decodeFindCursor,
  documentSortKeys,
  encodeFindCursor,
  isInfrastructureError,
  MAX_DOCUMENT_BYTES,
  parseFieldPath,
  prepareDocument,
  prepareFilter,
  prepareFind,
  prepareUpdate,
  splitDocumentId,
  validateCollectionName,
  validateFindLimit,
} from "../src/index.js";

/** `{ n: { n: ... value } }` with `levels` objects below the outer one. */
function nest(levels: number, value: unknown): Record<string, unknown> {
  let out: Record<string, unknown> = { n: value };
  for (let i = 0; i < levels; i++) out = { n: out };
  return out;
}

function nestArray(levels: number): Record<string, unknown> {
  let out: unknown = [1];
  for (let i = 0; i < levels; i++) out = [out];
  return { a: out };
}

const marker = Symbol.for("@proj/ports.FilterCondition");

function forged(op: string, value: unknown): unknown {
  return { [marker]: true, op, value };
}

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
    ["an id with a lone surrogate", { id: "k\ud800" }],
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
    ["_bsontype", "INVALID_ARGUMENT"],
    ["a\ud800", "INVALID_ARGUMENT"],
    ["a._bsontype.b", "INVALID_ARGUMENT"],
    [7, "INVALID_ARGUMENT"],
  ];
  for (const [field, expected] of cases) {
    it(`gives ${JSON.stringify(expected)} for the field ${JSON.stringify(field)}`, () => {
      if (Array.isArray(expected)) expect(parseFieldPath(field, "find")).toEqual(expected);
      else expect(codeOf(() => parseFieldPath(field, "find"))).toBe(expected);
    });
  }
});

describe("error messages about caller input", () => {
  it("refuses a BigInt or prototype-less field, name or operator with INVALID_ARGUMENT, not a TypeError", () => {
    expect(codeOf(() => parseFieldPath(10n, "find"))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => validateCollectionName(10n))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => prepareUpdate({ unset: [10n] }, "updateOne"))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => parseFieldPath(Object.create(null), "find"))).toBe("INVALID_ARGUMENT");
  });
});

describe("copyDocumentValue", () => {
  it("returns a deep copy that shares nothing with the input", () => {
    const input = { a: [1, { b: "x" }], when: new Date(5), nested: { n: null } };
    const copy = copyDocumentValue(input, "doc") as typeof input;
    expect(copy).toEqual({ a: [1, { b: "x" }], when: new Date(5), nested: { n: null } });
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
    ["an undefined field", { a: 1, gone: undefined }],
    ["an undefined nested field", { a: { b: [{ c: undefined }] } }],
    // biome-ignore lint/suspicious/noSparseArray: the hole is the case
    ["a sparse array", { a: [1, , 3] }],
    ["a _bsontype key", { a: { _bsontype: "ObjectId", id: "x" } }],
    ["a top-level _bsontype key", { _bsontype: "Code", code: "1" }],
    ["a lone high surrogate in a string", { s: "k\ud800" }],
    ["a lone low surrogate in a key", { "k\udc00": 1 }],
    ["101 levels of nesting", nest(100, 1)],
    ["10,000 levels of nesting", nest(10_000, 1)],
    ["101 levels of arrays", nestArray(100)],
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

  it("accepts 100 levels of nesting, the document being level 1", () => {
    expect(copyDocumentValue(nest(99, 1), "doc")).toEqual(nest(99, 1));
    expect(codeOf(() => copyDocumentValue(nest(98, 1), "doc", false, 3))).toBe("INVALID_ARGUMENT");
  });

  it("refuses undefined and _bsontype in a filter operand too", () => {
    expect(codeOf(() => copyDocumentValue({ a: undefined }, "filter", true))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => copyDocumentValue({ _bsontype: "x" }, "filter", true))).toBe("INVALID_ARGUMENT");
  });

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
    ["an object instead of an array", { field: "a", direction: "asc" }],
    ["a null entry", [null]],
    ["a string entry", ["a"]],
    ["a numeric field", [{ field: 1, direction: "asc" }]],
    ["a field starting with $", [{ field: "$natural", direction: "asc" }]],
    ["a missing direction", [{ field: "a" }]],
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

describe("cursor values", () => {
  const keys = documentSortKeys([{ field: "at", direction: "desc" }], "find");
  const raw = (v: unknown[]) => toBase64Url(JSON.stringify({ s: ["at:desc", "id:asc"], v }));

  const refused: [label: string, cursor: string][] = [
    ["an invalid date", raw([{ d: 8.64e15 + 1 }, { j: "a" }])],
    ["a fractional date", raw([{ d: 1.5 }, { j: "a" }])],
    ["a date that is a string", raw([{ d: "2024" }, { j: "a" }])],
    ["a numeric id", raw([{ j: 1 }, { j: 7 }])],
    ["an empty id", raw([{ j: 1 }, { j: "" }])],
    ["a null id", raw([{ j: 1 }, { j: null }])],
    ["an item with both d and j", raw([{ d: 0, j: 1 }, { j: "a" }])],
    ["an item with neither", raw([{}, { j: "a" }])],
    ["a value with _bsontype", raw([{ j: { _bsontype: "x" } }, { j: "a" }])],
  ];
  for (const [label, cursor] of refused) {
    it(`refuses a cursor holding ${label}`, () => {
      expect(codeOf(() => decodeFindCursor(cursor, keys))).toBe("INVALID_ARGUMENT");
    });
  }

  it("refuses a cursor that is not a string", () => {
    expect(codeOf(() => decodeFindCursor(42, keys))).toBe("INVALID_ARGUMENT");
  });

  it("accepts the cursor it made", () => {
    expect(decodeFindCursor(raw([{ d: -8.64e15 }, { j: "a" }]), keys)).toEqual([new Date(-8.64e15), "a"]);
  });
});

describe("prepareFilter", () => {
  it("returns one clause per field, equality for plain values", () => {
    expect(prepareFilter({ "a.b": 1, c: forged("in", [1, null]) }, "find", false)).toEqual([
      { field: "a.b", path: ["a", "b"], op: "eq", operand: 1 },
      { field: "c", path: ["c"], op: "in", operand: [1, null] },
    ]);
  });

  it("matches everything for a missing filter only where none is required", () => {
    expect(prepareFilter(undefined, "find", false)).toEqual([]);
    expect(codeOf(() => prepareFilter(undefined, "deleteMany", true))).toBe("INVALID_ARGUMENT");
    expect(prepareFilter({}, "deleteMany", true)).toEqual([]);
  });

  const refused: [label: string, filter: unknown][] = [
    ["an undefined field value", { email: undefined }],
    ["undefined nested in a value", { address: { city: undefined } }],
    ["undefined in an array value", { tags: ["a", undefined] }],
    ["a condition of undefined", { a: forged("eq", undefined) }],
    ["undefined in an in list", { a: forged("in", ["x", undefined]) }],
    ["an operator named __proto__", { a: forged("__proto__", 1) }],
    ["an operator named constructor", { a: forged("constructor", 1) }],
    ["an operator named toString", { a: forged("toString", 1) }],
    ["an operator that is not a string", { a: forged(["eq"] as unknown as string, 1) }],
    ["an operator that is a prototype-less object", { a: forged(Object.create(null), 1) }],
    ["a _bsontype key in an operand", { a: { _bsontype: "ObjectId" } }],
    ["an operand nested over 100 levels", { a: nest(100, 1) }],
    ["a path of 101 segments", { [Array.from({ length: 101 }, () => "a").join(".")]: 1 }],
    ["an array filter", [{ a: 1 }]],
  ];
  for (const [label, filter] of refused) {
    it(`refuses ${label} with INVALID_ARGUMENT`, () => {
      expect(codeOf(() => prepareFilter(filter, "find", false))).toBe("INVALID_ARGUMENT");
    });
  }

  it("counts an operand's depth from its path", () => {
    expect(codeOf(() => prepareFilter({ a: nest(98, 1) }, "find", false))).toBeUndefined();
    expect(codeOf(() => prepareFilter({ "a.b": nest(98, 1) }, "find", false))).toBe("INVALID_ARGUMENT");
  });

  it("refuses operands over 16 MiB with RESOURCE_EXHAUSTED, not retryable", () => {
    const big = "x".repeat(MAX_DOCUMENT_BYTES / 2);
    expect(codeOf(() => prepareFilter({ a: big }, "find", false))).toBeUndefined();
    let caught: unknown;
    try {
      prepareFilter({ a: big, b: big }, "find", false);
    } catch (error) {
      caught = error;
    }
    expect(isInfrastructureError(caught, "RESOURCE_EXHAUSTED")).toBe(true);
    expect((caught as { retryable: boolean }).retryable).toBe(false);
  });
});

describe("prepareUpdate", () => {
  it("splits set, unset and increment into checked paths", () => {
    expect(prepareUpdate({ set: { "a.b": { c: 1 } }, unset: ["d"], increment: { n: 2 } }, "u")).toEqual({
      set: [{ field: "a.b", path: ["a", "b"], value: { c: 1 } }],
      unset: [{ field: "d", path: ["d"] }],
      increment: [{ field: "n", path: ["n"], amount: 2 }],
    });
  });

  const refused: [label: string, update: unknown][] = [
    ["a set value of undefined", { set: { a: undefined } }],
    ["undefined nested in a set value", { set: { a: { b: undefined } } }],
    ["set given as undefined", { set: undefined, unset: ["a"] }],
    ["an unknown part", { set: { a: 1 }, $set: { admin: true } }],
    ["a _bsontype key in a value", { set: { a: { _bsontype: "Code" } } }],
    ["a value nested too deep for its path", { set: { "a.b": nest(98, 1) } }],
    // biome-ignore lint/suspicious/noSparseArray: the hole is the case
    ["a sparse unset list", { unset: [, "a"] }],
    ["a change of the id", { set: { id: "x" } }],
    ["overlapping paths", { set: { a: 1 }, unset: ["a.b"] }],
    ["nothing to change", { set: {} }],
  ];
  for (const [label, update] of refused) {
    it(`refuses ${label} with INVALID_ARGUMENT`, () => {
      expect(codeOf(() => prepareUpdate(update, "updateOne"))).toBe("INVALID_ARGUMENT");
    });
  }

  it("refuses values over 16 MiB with RESOURCE_EXHAUSTED", () => {
    const big = "x".repeat(MAX_DOCUMENT_BYTES / 2);
    expect(codeOf(() => prepareUpdate({ set: { a: big, b: big } }, "updateOne"))).toBe("RESOURCE_EXHAUSTED");
  });
});

describe("document size", () => {
  it("accepts a document of exactly 16 MiB with its id, refuses one byte more", () => {
    // _id element: 1 + 4 + (4 + 1 + 1) = 11; body element "s": 1 + 2 + 4 + n + 1; document: 4 + 1.
    const n = MAX_DOCUMENT_BYTES - 11 - 8 - 5;
    expect(codeOf(() => checkDocumentSize("i", { s: "x".repeat(n) }, "insertOne"))).toBeUndefined();
    expect(codeOf(() => checkDocumentSize("i", { s: "x".repeat(n + 1) }, "insertOne"))).toBe(
      "RESOURCE_EXHAUSTED",
    );
  });

  it("counts UTF-8 bytes: a surrogate pair as four, a lone surrogate as three", () => {
    const n = MAX_DOCUMENT_BYTES - 11 - 8 - 5;
    expect(codeOf(() => checkDocumentSize("i", { s: `${"x".repeat(n - 4)}😀` }, "i"))).toBeUndefined();
    expect(codeOf(() => checkDocumentSize("i", { s: `${"x".repeat(n - 3)}😀` }, "i"))).toBe(
      "RESOURCE_EXHAUSTED",
    );
    expect(codeOf(() => checkDocumentSize("i", { s: `${"x".repeat(n - 3)}\ud800` }, "i"))).toBeUndefined();
    expect(codeOf(() => checkDocumentSize("i", { s: `${"x".repeat(n - 2)}\ud800` }, "i"))).toBe(
      "RESOURCE_EXHAUSTED",
    );
  });

  it("prepareDocument measures the generated id and refuses an oversize document", () => {
    const big = "x".repeat(MAX_DOCUMENT_BYTES);
    expect(codeOf(() => prepareDocument({ s: big }, "insertOne", () => "g"))).toBe("RESOURCE_EXHAUSTED");
    expect(prepareDocument({ s: "x" }, "insertOne", () => "g")).toEqual({ id: "g", fields: { s: "x" } });
    expect(prepareDocument({ id: "given" }, "insertOne", () => "g").id).toBe("given");
  });
});

describe("prepareFind", () => {
  it("refuses malformed options with INVALID_ARGUMENT", () => {
    for (const options of [
      { sort: { a: 1 } },
      { sort: [null] },
      { limit: "5" },
      { after: 5 },
      [] as unknown,
    ]) {
      expect(
        codeOf(() => prepareFind({}, options as never, "find")),
        JSON.stringify(options),
      ).toBe("INVALID_ARGUMENT");
    }
  });

  it("counts the cursor's values once per sort key against the size limit", () => {
    const keys = documentSortKeys([{ field: "s", direction: "asc" }], "find");
    const half = "x".repeat(MAX_DOCUMENT_BYTES / 2);
    const after = encodeFindCursor(keys, [half, "id"]);
    expect(codeOf(() => prepareFind({}, { sort: [{ field: "s", direction: "asc" }], after }, "find"))).toBe(
      "RESOURCE_EXHAUSTED",
    );
    const small = encodeFindCursor(keys, ["x", "id"]);
    expect(
      prepareFind({ a: 1 }, { sort: [{ field: "s", direction: "asc" }], after: small }, "find").after,
    ).toEqual(["x", "id"]);
  });
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
    for (const [body, message] of [
      [{ s: signature, v: [{ d: 1 }] }, "find: the cursor is not valid"],
      [{ s: signature, v: [{ d: 1 }, { x: 1 }] }, "find: the cursor's id is not a non-empty string"],
      [{ s: signature, v: [{ d: 1 }, "raw"] }, "find: the cursor is not valid"],
      [{ s: signature }, "find: the cursor is not valid"],
      [{ v: [] }, "find: the cursor is not valid"],
      [[signature, []], "find: the cursor is not valid"],
    ] as const) {
      const error = errorOf(() => decodeFindCursor(encode(body), keys));
      expect((error as Error).message, JSON.stringify(body)).toBe(message);
    }
    expect((errorOf(() => decodeFindCursor("%%%", keys)) as Error).message).toBe(
      "find: the cursor is not valid",
    );
  });
});
