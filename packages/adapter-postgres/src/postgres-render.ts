import { postgresDialect, type RenderedSql, type SqlQuery } from "@proj/ports";

/** `$1`, `$2`, ...: made once, not once per parameter of every statement. */
const placeholders: string[] = [];

function placeholder(position: number): string {
  let text = placeholders[position];
  if (text === undefined) {
    text = `$${position}`;
    placeholders[position] = text;
  }
  return text;
}

/** `renderSql` for PostgreSQL, on the hot path of every statement. */
export function renderPostgres(query: SqlQuery): RenderedSql {
  let text = "";
  const values: unknown[] = [];
  for (const segment of query.segments) {
    if (segment.kind === "text") text += segment.text;
    else if (segment.kind === "value") {
      values.push(segment.value);
      text += placeholder(values.length);
    } else text += segment.names.map(postgresDialect.quoteIdentifier).join(".");
  }
  return { text, values };
}
