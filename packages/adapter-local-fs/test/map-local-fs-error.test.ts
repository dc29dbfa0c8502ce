import { type ErrorCode, InfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { mapLocalFsError } from "../src/map-local-fs-error.js";

function fsError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, open '/secret/absolute/path'`), { code, errno: -1 });
}

const CASES: ReadonlyArray<[string, ErrorCode, boolean]> = [
  ["ENOENT", "NOT_FOUND", false],
  ["ENOTDIR", "NOT_FOUND", false],
  ["EACCES", "PERMISSION_DENIED", false],
  ["EPERM", "PERMISSION_DENIED", false],
  ["EROFS", "PERMISSION_DENIED", false],
  ["ENOSPC", "RESOURCE_EXHAUSTED", false],
  ["EDQUOT", "RESOURCE_EXHAUSTED", false],
  ["EFBIG", "RESOURCE_EXHAUSTED", false],
  ["EMFILE", "RESOURCE_EXHAUSTED", true],
  ["ENFILE", "RESOURCE_EXHAUSTED", true],
  ["EEXIST", "CONFLICT", false],
  ["ENOTEMPTY", "CONFLICT", false],
  ["EISDIR", "INVALID_ARGUMENT", false],
  ["ENAMETOOLONG", "INVALID_ARGUMENT", false],
  ["ELOOP", "INVALID_ARGUMENT", false],
  ["EBUSY", "UNAVAILABLE", true],
  ["EAGAIN", "UNAVAILABLE", true],
  ["EIO", "UNAVAILABLE", true],
  ["ETIMEDOUT", "TIMEOUT", true],
  ["EXDEV", "INTERNAL", false],
];

describe("mapLocalFsError", () => {
  for (const [errno, code, retryable] of CASES) {
    it(`maps ${errno} to ${code}${retryable ? " (retryable)" : ""}`, () => {
      const cause = fsError(errno);
      const mapped = mapLocalFsError(cause, 'write of file "a/b.txt"', { path: "a/b.txt" });
      expect(mapped).toBeInstanceOf(InfrastructureError);
      expect(mapped.code).toBe(code);
      expect(mapped.retryable).toBe(retryable);
      expect(mapped.cause).toBe(cause);
      expect(mapped.details).toEqual({ path: "a/b.txt", errno });
      expect(mapped.message.startsWith('write of file "a/b.txt" failed: ')).toBe(true);
      expect(mapped.message.endsWith(code === "INTERNAL" ? ` ${errno}` : ` (${errno})`)).toBe(true);
      expect(mapped.message).not.toContain("/secret");
    });
  }

  it("says in words what ELOOP means instead of surfacing the bare code", () => {
    const mapped = mapLocalFsError(fsError("ELOOP"), 'read of file "loop/x"');
    expect(mapped.code).toBe("INVALID_ARGUMENT");
    expect(mapped.message).toContain("symlink");
    expect(mapped.message).not.toMatch(/failed: ELOOP$/);
  });

  it("passes a taxonomy error through unchanged", () => {
    const original = new InfrastructureError("CANCELLED", "write was cancelled");
    expect(mapLocalFsError(original, "write")).toBe(original);
  });

  it("maps an error without an errno code to INTERNAL, keeping its message", () => {
    const mapped = mapLocalFsError(new Error("the data source broke"), 'write of file "x"');
    expect(mapped.code).toBe("INTERNAL");
    expect(mapped.message).toBe('write of file "x" failed: the data source broke');
    expect(mapped.retryable).toBe(false);
  });

  it("maps a thrown non-error to INTERNAL", () => {
    expect(mapLocalFsError("boom", "sweep").code).toBe("INTERNAL");
  });
});
