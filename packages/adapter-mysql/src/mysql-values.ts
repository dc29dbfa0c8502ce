import { InfrastructureError } from "@proj/ports";
import type { TypeCast } from "mysql2";

/**
 * BOOLEAN is an alias of TINYINT(1) on MySQL and MariaDB, so the column length is the only sign
 * that a column holds a boolean; every other type keeps mysql2's own reading.
 */
export const booleanTypeCast: TypeCast = (field, next) => {
  if (field.type !== "TINY" || field.length !== 1) return next();
  const value: unknown = next();
  return value === null ? null : Number(value) !== 0;
};

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
