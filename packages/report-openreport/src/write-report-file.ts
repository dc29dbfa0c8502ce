import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { GenerateReportOptions, ReportDefinition, ReportGenerator, ReportResult } from "@proj/ports";
import { mapOpenReportError } from "./map-openreport-error.js";

/**
 * Generates a report into the file at `path` so that the file is either the whole report or left as
 * it was. The report is written to a temporary name beside it (`.<name>.<uuid>.partial`, same folder,
 * so the rename never crosses file systems) and renamed over `path` only once `generate` succeeded;
 * on any failure the temporary file is removed and `path` is untouched.
 *
 * Works with any `ReportGenerator`. Rejects with the generator's taxonomy error, or with the mapped
 * file-system error (`NOT_FOUND` for a missing folder, `PERMISSION_DENIED`, `RESOURCE_EXHAUSTED`).
 */
export async function writeReportFile(
  generator: ReportGenerator,
  definition: ReportDefinition,
  path: string,
  options: GenerateReportOptions,
): Promise<ReportResult> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomUUID()}.partial`);
  const what = `${String(options?.format)} report file`;
  try {
    // `wx`: never write through a file (or link) that someone else put at this name.
    const result = await generator.generate(
      definition,
      createWriteStream(temporary, { flags: "wx" }),
      options,
    );
    await rename(temporary, path);
    return result;
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw mapOpenReportError(error, { what, signal: options?.signal });
  }
}
