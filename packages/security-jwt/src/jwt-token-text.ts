import { type TokenFailureReason, UnauthenticatedError } from "@proj/ports";

/** Room for the `Bearer ` scheme and surrounding spaces on top of the token size limit. */
const HEADER_SLACK = 64;
const BEARER = /^bearer(?:\s+|$)/i;
/** Three base64url segments; the signature may be empty so that a stripped signature is named as such. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function refuse(reason: TokenFailureReason, message: string, cause?: unknown): never {
  throw new UnauthenticatedError(reason, message, cause === undefined ? {} : { cause });
}

/** Takes the token out of a bare token or an `Authorization: Bearer <token>` value. */
export function extractToken(input: string, limit: number): string {
  if (typeof input !== "string") refuse("missing", "no bearer token was presented");
  // Checked before anything reads the input, so an oversized header costs nothing to refuse.
  if (input.length > limit + HEADER_SLACK) refuse("too_large", `the token is longer than ${limit} bytes`);
  let token = input.trim();
  // A bare JWT starts with "ey" (base64url of '{"'): only other values need the scheme regex.
  const scheme = token.startsWith("ey") ? null : BEARER.exec(token);
  if (scheme !== null) token = token.slice(scheme[0].length);
  if (token.length === 0) refuse("missing", "no bearer token was presented");
  if (token.length > limit) refuse("too_large", `the token is longer than ${limit} bytes`);
  // Anything else (another scheme, a second value after a space) fails the strict shape check in splitToken.
  return token;
}

export interface TokenSegments {
  header: string;
  payload: string;
  signature: string;
}

/** Splits a compact JWS, refusing anything that is not exactly three strict base64url segments. */
export function splitToken(token: string): TokenSegments {
  if (!COMPACT_JWS.test(token)) {
    const count = token.split(".").length;
    refuse(
      "malformed",
      count === 3 ? "the token is not base64url" : `the token has ${count} segments, not 3`,
    );
  }
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  const segments = {
    header: token.slice(0, first),
    payload: token.slice(first + 1, second),
    signature: token.slice(second + 1),
  };
  // A length of 1 modulo 4 cannot come from whole bytes: lenient decoders would drop the extra character.
  if (
    segments.header.length % 4 === 1 ||
    segments.payload.length % 4 === 1 ||
    segments.signature.length % 4 === 1
  ) {
    refuse("malformed", "the token is not base64url");
  }
  return segments;
}

/** Refuses invalid UTF-8 instead of replacing it: two parsers must never read different claims. */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes one segment to a JSON object, refusing invalid UTF-8, non-JSON, non-objects and duplicate member names. */
export function parseJsonObject(segment: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = STRICT_UTF8.decode(Buffer.from(segment, "base64url"));
  } catch (error) {
    refuse("malformed", `the token ${what} is not UTF-8`, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    refuse("malformed", `the token ${what} is not JSON`, error);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    refuse("malformed", `the token ${what} is not a JSON object`);
  }
  if (hasDuplicateMembers(text)) refuse("malformed", `the token ${what} repeats a member name`);
  return parsed as Record<string, unknown>;
}

const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * True when some object in `json` (already accepted by `JSON.parse`) names a member twice.
 * `JSON.parse` keeps the last duplicate silently, so `{"sub":"alice","sub":"admin"}` would mean
 * different things to different parsers; RFC 7519 §4 lets a verifier refuse it, and we do.
 */
export function hasDuplicateMembers(json: string): boolean {
  // The member names seen so far in each open object; `null` marks an open array. Claim sets are
  // small, so a list beats a Set here.
  const open: (string[] | null)[] = [];
  let expectingName = false;
  let index = 0;
  for (;;) {
    // Structure lives between string literals; indexOf jumps over the literals' contents natively.
    const quote = json.indexOf('"', index);
    const stop = quote === -1 ? json.length : quote;
    for (let at = index; at < stop; at++) {
      const code = json.charCodeAt(at);
      if (code === OPEN_OBJECT) {
        open.push([]);
        expectingName = true;
      } else if (code === OPEN_ARRAY) {
        open.push(null);
      } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
        open.pop();
        expectingName = false;
      } else if (code === COMMA) {
        expectingName = open[open.length - 1] != null;
      }
    }
    if (quote === -1) return false;
    let end = json.indexOf('"', quote + 1);
    while (end !== -1 && json.charCodeAt(end - 1) === BACKSLASH && escapedQuote(json, end)) {
      end = json.indexOf('"', end + 1);
    }
    if (end === -1) return false;
    if (expectingName) {
      const names = open[open.length - 1];
      const raw = json.slice(quote + 1, end);
      // Escapes are resolved so that "sub" and "\u0073ub" count as the same name.
      const name = raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
      if (names?.includes(name)) return true;
      names?.push(name);
      expectingName = false;
    }
    index = end + 1;
  }
}

/** Whether the quote at `at` is escaped: preceded by an odd number of backslashes. */
function escapedQuote(json: string, at: number): boolean {
  let slashes = 0;
  for (let back = at - 1; json.charCodeAt(back) === BACKSLASH; back--) slashes++;
  return slashes % 2 === 1;
}
