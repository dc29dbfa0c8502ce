import { InfrastructureError } from "@proj/ports";

/** Temporary files of in-flight writes start with this; such names are reserved. */
export const TEMP_PREFIX = ".~tmp-";

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it looks for
const NUL = /\u0000/;
const DRIVE = /^[A-Za-z]:/;
const PERCENT_ESCAPE = /%([0-9A-Fa-f]{2})/g;

function invalid(path: string, why: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", `path ${JSON.stringify(path)} ${why}`, {
    retryable: false,
    details: { path },
  });
}

/** Decodes percent escapes repeatedly, so double-encoding hides nothing. */
function fullyDecoded(path: string): string {
  let current = path;
  for (let round = 0; round < 5; round++) {
    const next = current.replace(PERCENT_ESCAPE, (_, hex: string) =>
      String.fromCharCode(Number.parseInt(hex, 16)),
    );
    if (next === current) return current;
    current = next;
  }
  return current;
}

/**
 * Checks a caller's relative path and returns its segments. Refused: empty, absolute (`/…`, `C:…`),
 * `..` or `.` or empty segments, NUL, backslashes, separators or `..` hidden behind percent
 * escapes, and the names reserved for temporary files.
 */
export function checkRelativePath(path: unknown): string[] {
  if (typeof path !== "string" || path.length === 0)
    throw invalid(String(path), "must be a non-empty string");
  if (NUL.test(path)) throw invalid(path, "holds a NUL byte");
  if (path.includes("\\")) throw invalid(path, "holds a backslash");
  if (path.startsWith("/") || DRIVE.test(path))
    throw invalid(path, "is absolute; paths are relative to the root");
  const segments = path.split("/");
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..") {
      throw invalid(path, "holds an empty, `.` or `..` segment");
    }
    if (segment.startsWith(TEMP_PREFIX)) throw invalid(path, `uses the reserved name prefix ${TEMP_PREFIX}`);
  }
  const decoded = fullyDecoded(path);
  if (decoded !== path) {
    if (NUL.test(decoded) || decoded.includes("\\") || decoded.split("/").length !== segments.length) {
      throw invalid(path, "hides a separator or NUL behind percent escapes");
    }
    if (decoded.split("/").some((segment) => segment === ".."))
      throw invalid(path, "hides `..` behind percent escapes");
  }
  return segments;
}

/** Whether a name found on disk is one a caller could have given; names that are not are left alone. */
export function isUsablePath(path: string): boolean {
  try {
    checkRelativePath(path);
    return true;
  } catch {
    return false;
  }
}
