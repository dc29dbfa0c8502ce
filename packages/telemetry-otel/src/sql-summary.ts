import type { SqlQuery } from "@proj/ports";

/** What a statement is, told from its text and identifiers alone: never from a bound value. */
export interface SqlSummary {
  /** `db.operation.name`: the first statement keyword (`SELECT`, `INSERT`, `CREATE`…). */
  readonly operation: string | undefined;
  /** `db.collection.name`: the first table the statement names. */
  readonly collection: string | undefined;
  /** `db.query.summary`: operations and tables in order (`INSERT orders SELECT carts`). */
  readonly summary: string | undefined;
}

type Segment = SqlQuery["segments"][number];

enum Kind {
  Word,
  Name,
  Dot,
  Open,
  Close,
  Comma,
  Other,
}

interface Token {
  kind: Kind;
  /** Upper-cased for words, as written for names. */
  text: string;
  /** The word as written (for a table named by an unquoted word). */
  raw: string;
}

/** Statement keywords that start an operation in the summary. */
const OPERATIONS = new Set([
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "MERGE",
  "REPLACE",
  "UPSERT",
  "CALL",
  "COPY",
  "TRUNCATE",
  "CREATE",
  "DROP",
  "ALTER",
  "SHOW",
  "SET",
  "BEGIN",
  "START",
  "COMMIT",
  "ROLLBACK",
  "SAVEPOINT",
  "RELEASE",
  "LOCK",
  "GRANT",
  "REVOKE",
  "VACUUM",
  "ANALYZE",
  "EXPLAIN",
  "VALUES",
  "DO",
]);

/** Object kinds written after CREATE, DROP and ALTER, kept in the summary (`CREATE TABLE t`). */
const OBJECT_KINDS = new Set([
  "TABLE",
  "INDEX",
  "VIEW",
  "SCHEMA",
  "SEQUENCE",
  "FUNCTION",
  "PROCEDURE",
  "TRIGGER",
  "POLICY",
  "EXTENSION",
  "TYPE",
  "DATABASE",
  "ROLE",
  "USER",
  "MATERIALIZED",
]);

/** Words after which the next name is a table. */
const TARGET_BEFORE = new Set(["FROM", "JOIN", "INTO", "UPDATE", "TABLE", "TRUNCATE", "USING"]);

/** Words that may stand between a target keyword and its table, and are skipped. */
const SKIPPED = new Set([
  "TABLE",
  "ONLY",
  "LATERAL",
  "IF",
  "NOT",
  "EXISTS",
  "CONCURRENTLY",
  "UNIQUE",
  "TEMPORARY",
  "TEMP",
  "UNLOGGED",
  "OR",
  "IGNORE",
  "LOW_PRIORITY",
  "DELAYED",
  "HIGH_PRIORITY",
  "QUICK",
]);

/** Words between CREATE, DROP or ALTER and the kind of object. */
const DDL_MODIFIERS = new Set([
  "OR",
  "REPLACE",
  "UNIQUE",
  "TEMPORARY",
  "TEMP",
  "UNLOGGED",
  "GLOBAL",
  "LOCAL",
  "IF",
  "NOT",
  "EXISTS",
  "CONCURRENTLY",
]);

/** Words before UPDATE that make it a clause (`FOR UPDATE`, `DO UPDATE`, `KEY UPDATE`), not a statement. */
const UPDATE_CLAUSE_AFTER = new Set(["FOR", "DO", "KEY"]);

/** Words that are never table names (what follows FROM in `DELETE FROM` is the table, but not these). */
const NOT_A_TABLE = new Set([
  ...OPERATIONS,
  "WHERE",
  "SET",
  "ON",
  "AS",
  "WITH",
  "DEFAULT",
  "GROUP",
  "ORDER",
  "LIMIT",
  "RETURNING",
  "STDIN",
  "STDOUT",
]);

const MAX_SUMMARY = 255;

function isWordStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code > 127;
}

function isWordPart(code: number): boolean {
  return isWordStart(code) || (code >= 48 && code <= 57) || code === 36;
}

/** Splits one text segment into tokens, skipping literals, numbers, comments and placeholders. */
function scan(text: string, tokens: Token[]): void {
  const length = text.length;
  let i = 0;
  while (i < length) {
    const code = text.charCodeAt(i);
    if (code <= 32) {
      i++;
    } else if (code === 45 && text.charCodeAt(i + 1) === 45) {
      // -- comment to the end of the line
      const end = text.indexOf("\n", i);
      i = end === -1 ? length : end + 1;
    } else if (code === 47 && text.charCodeAt(i + 1) === 42) {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? length : end + 2;
    } else if (code === 39) {
      // 'string literal' with '' escapes: skipped whole, never recorded
      i++;
      while (i < length) {
        if (text.charCodeAt(i) === 39) {
          if (text.charCodeAt(i + 1) === 39) i += 2;
          else break;
        } else i++;
      }
      i++;
      tokens.push({ kind: Kind.Other, text: "", raw: "" });
    } else if (code === 34 || code === 96) {
      // "quoted" or `quoted` identifier
      const quote = text[i] as string;
      let name = "";
      i++;
      while (i < length) {
        const ch = text[i] as string;
        if (ch === quote) {
          if (text[i + 1] === quote) {
            name += quote;
            i += 2;
            continue;
          }
          break;
        }
        name += ch;
        i++;
      }
      i++;
      tokens.push({ kind: Kind.Name, text: name, raw: name });
    } else if (code === 36 && !isWordPart(text.charCodeAt(i + 1) || 0)) {
      tokens.push({ kind: Kind.Other, text: "", raw: "" });
      i++;
    } else if (code === 36) {
      // $1 placeholder, or a $tag$ … $tag$ dollar-quoted literal (skipped whole)
      let j = i + 1;
      while (j < length && isWordPart(text.charCodeAt(j)) && text.charCodeAt(j) !== 36) j++;
      if (text.charCodeAt(j) === 36) {
        const tag = text.slice(i, j + 1);
        const end = text.indexOf(tag, j + 1);
        i = end === -1 ? length : end + tag.length;
      } else {
        i = j;
      }
      tokens.push({ kind: Kind.Other, text: "", raw: "" });
    } else if (isWordStart(code)) {
      let j = i + 1;
      while (j < length && isWordPart(text.charCodeAt(j))) j++;
      const raw = text.slice(i, j);
      tokens.push({ kind: Kind.Word, text: raw.toUpperCase(), raw });
      i = j;
    } else if (code >= 48 && code <= 57) {
      let j = i + 1;
      while (j < length && (isWordPart(text.charCodeAt(j)) || text.charCodeAt(j) === 46)) j++;
      tokens.push({ kind: Kind.Other, text: "", raw: "" });
      i = j;
    } else {
      const kind =
        code === 46
          ? Kind.Dot
          : code === 40
            ? Kind.Open
            : code === 41
              ? Kind.Close
              : code === 44
                ? Kind.Comma
                : Kind.Other;
      tokens.push({ kind, text: "", raw: "" });
      i++;
    }
  }
}

function tokenize(segments: readonly Segment[]): Token[] {
  const tokens: Token[] = [];
  for (const segment of segments) {
    if (segment.kind === "text") scan(segment.text, tokens);
    else if (segment.kind === "identifier") {
      const name = segment.names.join(".");
      tokens.push({ kind: Kind.Name, text: name, raw: name });
    } else tokens.push({ kind: Kind.Other, text: "", raw: "" });
  }
  return tokens;
}

/** A table name at `index` (`name`, `schema.name`), or undefined; and the index after it. */
function tableAt(
  tokens: readonly Token[],
  start: number,
  callsPossible = false,
): { name: string; next: number } | undefined {
  let index = start;
  while (tokens[index]?.kind === Kind.Word && SKIPPED.has((tokens[index] as Token).text)) index++;
  const first = tokens[index];
  if (first === undefined) return undefined;
  if (first.kind === Kind.Word && NOT_A_TABLE.has(first.text)) return undefined;
  if (first.kind !== Kind.Word && first.kind !== Kind.Name) return undefined;
  let name = first.kind === Kind.Word ? first.raw : first.text;
  index++;
  while (tokens[index]?.kind === Kind.Dot) {
    const part = tokens[index + 1];
    if (part === undefined || (part.kind !== Kind.Word && part.kind !== Kind.Name)) break;
    name += `.${part.kind === Kind.Word ? part.raw : part.text}`;
    index += 2;
  }
  // After FROM, JOIN or USING, a function call (`FROM generate_series(…)`) is not a table; after
  // INTO or TABLE the parenthesis opens a column list.
  if (callsPossible && tokens[index]?.kind === Kind.Open) return undefined;
  return { name, next: index };
}

function summarizeTokens(tokens: readonly Token[]): SqlSummary {
  const parts: string[] = [];
  let operation: string | undefined;
  let collection: string | undefined;
  let depth = 0;
  /** Parenthesis depths at which a statement (SELECT, DELETE…) is open: FROM counts there only. */
  const statementDepths: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind === Kind.Open) {
      depth++;
      continue;
    }
    if (token.kind === Kind.Close) {
      while (statementDepths.length > 0 && (statementDepths.at(-1) as number) >= depth) statementDepths.pop();
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (token.kind !== Kind.Word) continue;
    const word = token.text;
    if (OPERATIONS.has(word)) {
      // SET inside UPDATE … SET, and VALUES inside INSERT, are clauses, not operations.
      if ((word === "SET" || word === "VALUES" || word === "DO") && operation !== undefined) continue;
      if (word === "UPDATE" && UPDATE_CLAUSE_AFTER.has(tokens[i - 1]?.text ?? "")) continue;
      operation ??= word;
      parts.push(word);
      statementDepths.push(depth);
      if (word === "CREATE" || word === "DROP" || word === "ALTER") {
        let j = i + 1;
        while (tokens[j]?.kind === Kind.Word && DDL_MODIFIERS.has((tokens[j] as Token).text)) j++;
        const kind = tokens[j];
        if (kind?.kind === Kind.Word && OBJECT_KINDS.has(kind.text)) {
          parts.push(kind.text);
          const target = tableAt(tokens, j + 1);
          if (target !== undefined) {
            parts.push(target.name);
            collection ??= kind.text === "TABLE" ? target.name : undefined;
            i = target.next - 1;
          } else i = j;
        }
      } else if (word === "UPDATE" || word === "TRUNCATE") {
        const target = tableAt(tokens, i + 1);
        if (target !== undefined) {
          parts.push(target.name);
          collection ??= target.name;
          i = target.next - 1;
        }
      }
      continue;
    }
    if (!TARGET_BEFORE.has(word) || word === "UPDATE") continue;
    // FROM inside a function call (`EXTRACT(YEAR FROM at)`) names no table.
    if (word === "FROM" && statementDepths.at(-1) !== depth) continue;
    const callsPossible = word === "FROM" || word === "JOIN" || word === "USING";
    let target = tableAt(tokens, i + 1, callsPossible);
    while (target !== undefined) {
      parts.push(target.name);
      collection ??= target.name;
      i = target.next - 1;
      if (word !== "FROM") break;
      // FROM a x, b y: every table of the list, aliases skipped.
      let j = target.next;
      if (tokens[j]?.kind === Kind.Word && tokens[j]?.text === "AS") j++;
      if (
        (tokens[j]?.kind === Kind.Word || tokens[j]?.kind === Kind.Name) &&
        !NOT_A_TABLE.has((tokens[j] as Token).text) &&
        !TARGET_BEFORE.has((tokens[j] as Token).text)
      )
        j++;
      if (tokens[j]?.kind !== Kind.Comma) break;
      target = tableAt(tokens, j + 1, true);
    }
  }
  let summary = parts.length === 0 ? undefined : parts.join(" ");
  if (summary !== undefined && summary.length > MAX_SUMMARY) {
    const cut = summary.lastIndexOf(" ", MAX_SUMMARY);
    summary = summary.slice(0, cut > 0 ? cut : MAX_SUMMARY);
  }
  return { operation, collection, summary };
}

const cache = new Map<string, SqlSummary>();
const CACHE_ENTRIES = 512;

/**
 * The summary of a statement, from its text segments and identifiers: bound values are neither
 * read nor rendered. Summaries of recent statement shapes are kept, so a statement run often is
 * parsed once.
 */
export function summarizeSql(query: SqlQuery): SqlSummary {
  const segments = query.segments;
  let key = "";
  for (const segment of segments) {
    if (segment.kind === "text") key += segment.text;
    else if (segment.kind === "identifier") key += `\u0000${segment.names.join("\u0001")}\u0000`;
    else key += "\u0002";
  }
  let found = cache.get(key);
  if (found === undefined) {
    found = summarizeTokens(tokenize(segments));
    if (cache.size >= CACHE_ENTRIES) cache.clear();
    cache.set(key, found);
  }
  return found;
}

/** The summary of an `insertMany`: `INSERT table`. */
export function insertSummary(table: unknown): SqlSummary {
  const name =
    typeof table === "string"
      ? table
      : Array.isArray(table) && table.every((part) => typeof part === "string")
        ? table.join(".")
        : undefined;
  return {
    operation: "INSERT",
    collection: name,
    summary: name === undefined ? "INSERT" : `INSERT ${name}`,
  };
}
