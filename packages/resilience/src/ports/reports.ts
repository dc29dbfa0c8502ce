import type { ReportDefinition, ReportGenerator } from "@proj/ports";
import { policyOf, type ResilienceOptions, type ResiliencePolicy } from "../policy.js";
import { CALLER_CODE, callerRows, withSignal } from "../shared.js";

/** The definition with each sheet's rows marked as the caller's; anything malformed passes as is. */
function markRows(definition: ReportDefinition): ReportDefinition {
  if (typeof definition !== "object" || definition === null || !Array.isArray(definition.sheets))
    return definition;
  return {
    ...definition,
    sheets: definition.sheets.map((sheet) =>
      typeof sheet === "object" && sheet !== null && "rows" in sheet
        ? { ...sheet, rows: callerRows(sheet.rows) }
        : sheet,
    ),
  };
}

/**
 * A `ReportGenerator` whose `generate` goes through `policy` (or a policy made from these options):
 * breaker and bulkhead (a limit on reports written at once), never retried (the rows are consumed
 * and the output written once), no deadline of the policy's unless `operationTimeoutsMs.generate`
 * gives one. What the sheets' rows throw never counts as a failure of the generator.
 */
export function withResilienceReportGenerator(
  generator: ReportGenerator,
  policy: ResiliencePolicy | ResilienceOptions = {},
): ReportGenerator {
  const p = policyOf(policy);
  const generate = p.operation("reports", "generate", { idempotent: false, runsCallerCode: true });
  return {
    get capabilities() {
      return generator.capabilities;
    },
    generate: async (definition, output, options) => {
      try {
        return await p.run(
          generate,
          options?.signal,
          (signal) =>
            generator.generate(markRows(definition), output, withSignal(options, signal) ?? options),
          CALLER_CODE,
        );
      } catch (error) {
        // The port destroys the output on every failure, one of the policy's own refusals included.
        if (typeof output?.destroy === "function" && !output.destroyed) output.destroy();
        throw error;
      }
    },
  };
}
