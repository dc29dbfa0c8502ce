import pg from "pg";

/**
 * The parts of a `pg` pool the adapter uses, typed structurally (as kysely does) so a caller may
 * hand over a pool of their own — a `pg.Pool` fits — without this package's `pg` types leaking
 * into theirs.
 */
export interface PostgresPool {
  connect(): Promise<PostgresPoolClient>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
  removeListener(event: "error", listener: (error: Error) => void): unknown;
}

export interface PostgresQueryResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
  /** The command tag: `SELECT`, `COMMIT`, or `ROLLBACK` when a COMMIT found the transaction failed. */
  command?: string;
}

/** What `client.query` accepts besides text: a cursor, a COPY stream. */
export interface PostgresSubmittable {
  submit(connection: never): void;
}

export interface PostgresPoolClient {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  query<T extends PostgresSubmittable>(submittable: T): T;
  release(destroy?: Error | boolean): void;
  on(event: "error", listener: (error: Error) => void): unknown;
  removeListener(event: "error", listener: (error: Error) => void): unknown;
}

export type Int8Mode = "string" | "bigint" | "number";

const INT8 = 20;
const INT8_ARRAY = 1016;

type TextParser = (value: string) => unknown;

function mapNested(value: unknown, parse: (text: string) => unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => mapNested(item, parse));
  return typeof value === "string" ? parse(value) : value;
}

/**
 * Type parsers for one pool: `pg.types` is process-global, so changing it would change every other
 * `pg` user in the process. Everything but int8 keeps pg's defaults (numeric as string,
 * timestamp/timestamptz as Date, json/jsonb parsed).
 */
export function poolTypes(int8: Int8Mode): pg.CustomTypesConfig {
  const parseInt8: TextParser | undefined =
    int8 === "bigint" ? (text) => BigInt(text) : int8 === "number" ? (text) => Number(text) : undefined;
  const getTypeParser = (oid: number, format?: "text" | "binary"): unknown => {
    if (parseInt8 !== undefined && format !== "binary") {
      if (oid === INT8) return parseInt8;
      if (oid === INT8_ARRAY) {
        const parseArray = (pg.types.getTypeParser as (oid: number, format: "text") => TextParser)(
          INT8_ARRAY,
          "text",
        );
        return (text: string) => mapNested(parseArray(text), parseInt8);
      }
    }
    const base = pg.types.getTypeParser as (oid: number, format?: "text" | "binary") => unknown;
    return base(oid, format);
  };
  return { getTypeParser: getTypeParser as pg.CustomTypesConfig["getTypeParser"] };
}

/**
 * A startup `options` string that puts `schema` first on the search path of every connection, at
 * no per-query cost. The server splits the string on spaces, so spaces and backslashes are escaped.
 */
export function searchPathOption(schema: string): string {
  const quoted = `"${schema.replaceAll('"', '""')}"`;
  return `-c search_path=${quoted.replaceAll("\\", "\\\\").replaceAll(" ", "\\ ")}`;
}
