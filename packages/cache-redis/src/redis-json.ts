/**
 * The default serializer: JSON text, strict both ways. `JSON.stringify` silently turns `-0` into
 * `0`, `NaN` into `null`, a `Date` into a string and a `Map` into `{}`, and drops `undefined`
 * properties, so the value read back would differ from the value stored (and from what the memory
 * adapter returns). This writer keeps `-0` (JSON has it: `JSON.parse("-0")` is `-0`) and refuses
 * everything else that would not come back equal, saying where in the value it is.
 */
export function toStrictJson(value: unknown): string {
  try {
    return write(value, []);
  } catch (error) {
    if (error instanceof NotJson) {
      throw new TypeError(`${["the value", ...error.path.reverse()].join("")} is ${error.what}`);
    }
    throw error;
  }
}

export function fromJson(text: string): unknown {
  return JSON.parse(text);
}

/** Thrown at the offending spot; each enclosing level adds its step, so paths cost only on failure. */
class NotJson extends Error {
  readonly path: string[] = [];
  constructor(readonly what: string) {
    super(what);
  }
}

function write(value: unknown, ancestors: object[]): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new NotJson(`${String(value)}, which JSON has no number for`);
      // What JSON.stringify writes too, except that it drops the sign of -0.
      return Object.is(value, -0) ? "-0" : String(value);
    case "object":
      if (value === null) return "null";
      return writeObject(value, ancestors);
    default:
      throw new NotJson(
        `${value === undefined ? "undefined" : `a ${typeof value}`}, which is not a JSON value`,
      );
  }
}

function writeObject(value: object, ancestors: object[]): string {
  if (ancestors.includes(value)) throw new NotJson("a reference to an enclosing value (a cycle)");
  ancestors.push(value);
  let text: string;
  if (Array.isArray(value)) {
    text = "[";
    for (let index = 0; index < value.length; index++) {
      try {
        if (!(index in value)) throw new NotJson("a hole in a sparse array");
        text += `${index === 0 ? "" : ","}${write(value[index], ancestors)}`;
      } catch (error) {
        throw within(error, `[${index}]`);
      }
    }
    text += "]";
  } else {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      throw new NotJson(
        `${typeof name === "string" && name !== "" ? `a ${name}` : "a class instance"}, not a plain object`,
      );
    }
    text = "{";
    let first = true;
    for (const key of Object.keys(value)) {
      try {
        text += `${first ? "" : ","}${JSON.stringify(key)}:${write((value as Record<string, unknown>)[key], ancestors)}`;
      } catch (error) {
        throw within(error, `[${JSON.stringify(key)}]`);
      }
      first = false;
    }
    text += "}";
  }
  ancestors.pop();
  return text;
}

function within(error: unknown, step: string): unknown {
  if (error instanceof NotJson) error.path.push(step);
  return error;
}
