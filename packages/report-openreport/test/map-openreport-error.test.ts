import { InfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { mapOpenReportError } from "../src/map-openreport-error.js";
import { RowSourceError } from "../src/report-engine.js";

function systemError(code: string): Error {
  return Object.assign(new Error(`${code}: failed`), { code });
}

const unavailable = new InfrastructureError("UNAVAILABLE", "database went away");

describe("mapOpenReportError", () => {
  it.each([
    { label: "a taxonomy error", error: unavailable, code: "UNAVAILABLE" },
    {
      label: "a row source's plain error",
      error: new RowSourceError("S", 3, new Error("boom")),
      code: "INTERNAL",
    },
    {
      label: "a row source's taxonomy error",
      error: new RowSourceError("S", 3, unavailable),
      code: "UNAVAILABLE",
    },
    { label: "ENOSPC", error: systemError("ENOSPC"), code: "RESOURCE_EXHAUSTED" },
    { label: "EDQUOT", error: systemError("EDQUOT"), code: "RESOURCE_EXHAUSTED" },
    { label: "EACCES", error: systemError("EACCES"), code: "PERMISSION_DENIED" },
    { label: "EPERM", error: systemError("EPERM"), code: "PERMISSION_DENIED" },
    { label: "ENOENT", error: systemError("ENOENT"), code: "NOT_FOUND" },
    { label: "EPIPE", error: systemError("EPIPE"), code: "UNAVAILABLE" },
    { label: "ECONNRESET", error: systemError("ECONNRESET"), code: "UNAVAILABLE" },
    { label: "a premature close", error: systemError("ERR_STREAM_PREMATURE_CLOSE"), code: "UNAVAILABLE" },
    { label: "a destroyed stream", error: systemError("ERR_STREAM_DESTROYED"), code: "UNAVAILABLE" },
    { label: "a zlib failure", error: systemError("Z_DATA_ERROR"), code: "INTERNAL" },
    { label: "anything else", error: new TypeError("bug"), code: "INTERNAL" },
  ])("maps $label to $code", ({ error, code }) => {
    const mapped = mapOpenReportError(error, { what: "xlsx report" });
    expect(mapped.code).toBe(code);
    if (error !== unavailable && !(error instanceof RowSourceError)) expect(mapped.cause).toBe(error);
  });

  it("returns the row source's taxonomy error itself", () => {
    expect(mapOpenReportError(new RowSourceError("S", 1, unavailable), { what: "csv report" })).toBe(
      unavailable,
    );
  });

  it("keeps a row source's plain error as the cause and names sheet and row", () => {
    const boom = new Error("boom");
    const mapped = mapOpenReportError(new RowSourceError("Orders", 7, boom), { what: "csv report" });
    expect(mapped.cause).toBe(boom);
    expect(mapped.message).toContain('"Orders"');
    expect(mapped.details).toEqual({ sheet: "Orders", row: 7 });
  });

  it("maps anything to CANCELLED once the signal has fired", () => {
    const controller = new AbortController();
    controller.abort();
    const mapped = mapOpenReportError(systemError("ERR_STREAM_PREMATURE_CLOSE"), {
      what: "xlsx report",
      signal: controller.signal,
    });
    expect(mapped.code).toBe("CANCELLED");
  });

  it("maps to TIMEOUT when the signal came from AbortSignal.timeout", async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(mapOpenReportError(new Error("aborted"), { what: "xlsx report", signal }).code).toBe("TIMEOUT");
  });
});
