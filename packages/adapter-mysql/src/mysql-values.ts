import { InfrastructureError } from "@proj/ports";

/** The parts of mysql2's column metadata (`ColumnDefinition`) the boolean reading needs. */
interface ColumnMeta {
  readonly name: string;
  readonly columnType: number;
  readonly columnLength: number;
}

/** mysql2's type code of TINYINT (`Types.TINY`). */
const TINY = 1;

/** A result set's column list, as opposed to the per-result lists of a statement with several. */
function isColumnList(value: unknown): boolean {
  return (
    Array.isArray(value) && typeof (value[0] as Partial<ColumnMeta> | undefined)?.columnType === "number"
  );
}

/**
 * The names of the columns of one result that hold booleans, or `undefined` when none does.
 * BOOLEAN is an alias of TINYINT(1) on MySQL and MariaDB, so the column length is the only sign
 * that a column holds a boolean; every other type keeps mysql2's own reading. When two columns
 * share a name the row keeps the last one's value, so that column alone decides.
 */
export function booleanColumns(fields: readonly ColumnMeta[]): string[] | undefined {
  let names: string[] | undefined;
  for (let index = 0; index < fields.length; index += 1) {
    const field = fields[index] as ColumnMeta;
    if (field.columnType !== TINY || field.columnLength !== 1) continue;
    let last = true;
    for (let later = index + 1; later < fields.length && last; later += 1) {
      if ((fields[later] as ColumnMeta).name === field.name) last = false;
    }
    if (!last) continue;
    if (names === undefined) names = [field.name];
    else names.push(field.name);
  }
  return names;
}

/** Turns the TINYINT(1) values of one row, read by mysql2 as numbers, into booleans, in place. */
export function readBooleanRow(row: Record<string, unknown>, names: readonly string[]): void {
  for (const name of names) {
    const value = row[name];
    if (value !== null) row[name] = Number(value) !== 0;
  }
}

/**
 * Reads BOOLEAN columns as booleans in what mysql2 answered to a statement (`rows`, `fields` of
 * its callback): one result set, or several (a `CALL`). The column metadata is read once per
 * result set and only rows with a boolean column are touched, which costs far less than a
 * mysql2 `typeCast` function (a wrapper object and two calls per value of every column).
 */
export function readBooleans(rows: unknown, fields: unknown): void {
  if (!Array.isArray(rows) || !Array.isArray(fields) || fields.length === 0) return;
  if (isColumnList(fields)) {
    const names = booleanColumns(fields as ColumnMeta[]);
    if (names) for (const row of rows) readBooleanRow(row as Record<string, unknown>, names);
    return;
  }
  for (let index = 0; index < fields.length; index += 1) {
    const own: unknown = fields[index];
    const set: unknown = rows[index];
    if (isColumnList(own)) readBooleans(set, own);
  }
}

/**
 * Shapes a bound value the way every backend of the port reads it: `undefined` is NULL, arrays
 * and plain objects travel as JSON text (as the PostgreSQL driver does), bytes as BLOB. Whatever
 * the value holds, it stays one parameter.
 */
export type Parameter = string | number | boolean | Date | Buffer | null;

export function toParameter(value: unknown): Parameter {
  if (value === undefined || value === null) return null;
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "object":
      if (value instanceof Date || Buffer.isBuffer(value)) return value;
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return JSON.stringify(value);
    default:
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `A ${typeof value} cannot be bound as a SQL parameter`,
      );
  }
}

export interface ServerInfo {
  version: string;
  flavor: "mariadb" | "mysql";
  /** `INSERT ... RETURNING` exists: MariaDB 10.5 and later; no MySQL release has it. */
  returning: boolean;
}

/** Reads `SELECT VERSION()`, e.g. `10.11.6-MariaDB-0+deb12u1` or `8.0.36`. */
export function describeServer(version: string): ServerInfo {
  const mariadb = /(\d+)\.(\d+)\.\d+-MariaDB/i.exec(version);
  if (!mariadb) return { version, flavor: "mysql", returning: false };
  const major = Number(mariadb[1]);
  const minor = Number(mariadb[2]);
  return { version, flavor: "mariadb", returning: major > 10 || (major === 10 && minor >= 5) };
}
