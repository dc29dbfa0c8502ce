import { expectErrorCode } from "@proj/contract-tests";
import type { ReportColumn } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createOpenReportGenerator } from "../src/index.js";
import { collect, MemoryOutput } from "./collect.js";

const generator = createOpenReportGenerator();
const COLUMNS: ReportColumn[] = [{ header: "When", key: "when", type: "date" }];

async function csvOf(values: unknown[]): Promise<string> {
  const rows = values.map((when) => ({ when }));
  const bytes = await collect(
    generator,
    { sheets: [{ name: "S", columns: COLUMNS, rows }] },
    { format: "csv" },
  );
  return bytes.toString("utf8");
}

describe("ISO 8601 date strings", () => {
  describe.each(["xlsx", "csv"] as const)("%s", (format) => {
    it.each([
      "2023-02-31",
      "1900-02-29",
      "2100-02-29",
      "2023-04-31T10:00:00Z",
      "2023-13-01",
      "2023-00-10",
      "2023-01-00",
      "2023-01-01T24:00:00",
      "2023-01-01T10:60",
      "2023-01-01T10:00:60Z",
      "2023-01-01T10:00:00+24:00",
      "2023-01-01T10:00:00+01:60",
    ])("refuses the impossible date %j with INVALID_ARGUMENT instead of moving it", async (when) => {
      const error = await expectErrorCode(
        generator.generate(
          { sheets: [{ name: "S", columns: COLUMNS, rows: [{ when }] }] },
          new MemoryOutput(),
          { format },
        ),
        "INVALID_ARGUMENT",
      );
      expect(error.message).toContain('column "when"');
    });
  });

  it("reads leap days, offsets, fractions and years before 100 exactly", async () => {
    expect(
      await csvOf([
        "2024-02-29",
        "2000-02-29",
        "2024-02-29T23:30:00-01:30",
        "2024-03-01T00:15+0100",
        "2024-03-01 10:00:00.123456",
        "0050-06-15",
      ]),
    ).toBe(
      "When\r\n2024-02-29\r\n2000-02-29\r\n2024-03-01T01:00:00.000Z\r\n2024-02-29T23:15:00.000Z\r\n" +
        "2024-03-01T10:00:00.123Z\r\n0050-06-15\r\n",
    );
  });
});

describe("CSV dates past year 9999", () => {
  it("keep their day", async () => {
    const midnight = new Date(Date.UTC(10_000, 0, 1));
    const later = new Date(Date.UTC(10_000, 0, 2, 12));
    expect(await csvOf([midnight, later])).toBe("When\r\n+010000-01-01\r\n+010000-01-02T12:00:00.000Z\r\n");
  });
});
