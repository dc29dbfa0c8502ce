import type { ReportColumn } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createOpenReportGenerator } from "../src/index.js";
import { collect } from "./collect.js";

const generator = createOpenReportGenerator();

async function csv(columns: ReportColumn[], rows: Record<string, unknown>[]): Promise<string> {
  const bytes = await collect(generator, { sheets: [{ name: "Data", columns, rows }] }, { format: "csv" });
  return bytes.toString("utf8");
}

describe("CSV", () => {
  it("writes dates at midnight UTC as the date alone and others as full ISO 8601 in UTC", async () => {
    const columns: ReportColumn[] = [{ header: "When", key: "when", type: "date" }];
    const text = await csv(columns, [
      { when: new Date(Date.UTC(2024, 1, 29)) },
      { when: "2024-02-29T10:00:00+01:00" },
      { when: "2024-02-29 10:00" },
    ]);
    expect(text).toBe("When\r\n2024-02-29\r\n2024-02-29T09:00:00.000Z\r\n2024-02-29T10:00:00.000Z\r\n");
  });

  it("normalises decimal strings and bigints in numeric columns", async () => {
    const columns: ReportColumn[] = [
      { header: "Amount", key: "amount", type: "currency" },
      { header: "Count", key: "count", type: "integer" },
    ];
    expect(await csv(columns, [{ amount: "0012.50", count: 42n }])).toBe("Amount,Count\r\n12.5,42\r\n");
  });

  it("protects headers that look like formulas too", async () => {
    const columns: ReportColumn[] = [{ header: "=cmd|' /C calc'!A0", key: "a", type: "string" }];
    expect(await csv(columns, [])).toBe("'=cmd|' /C calc'!A0\r\n");
  });

  it("quotes a protected field that also needs quoting", async () => {
    const columns: ReportColumn[] = [{ header: "T", key: "t", type: "string" }];
    expect(await csv(columns, [{ t: '=HYPERLINK("x","y")' }])).toBe('T\r\n"\'=HYPERLINK(""x"",""y"")"\r\n');
  });

  it("writes booleans as true and false, and text columns accept numbers and booleans as text", async () => {
    const columns: ReportColumn[] = [
      { header: "B", key: "b", type: "boolean" },
      { header: "T", key: "t", type: "string" },
    ];
    expect(
      await csv(columns, [
        { b: true, t: 12 },
        { b: false, t: false },
      ]),
    ).toBe("B,T\r\ntrue,12\r\nfalse,false\r\n");
  });
});
