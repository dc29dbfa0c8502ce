import type { ReportGenerator } from "@proj/ports";
import { type Chaos, type ChaosOptions, chaosOf } from "../chaos.js";
import { intercept } from "../intercept.js";

/**
 * A `ReportGenerator` with faults injected by `chaos` (or a chaos made from these options). Keys:
 * the first sheet's name. An injected failure destroys the output, as the port says of every
 * failure; with the `"after"` phase the report was written in full first.
 */
export function withChaosReportGenerator(
  generator: ReportGenerator,
  chaos: Chaos | ChaosOptions,
): ReportGenerator {
  const c = chaosOf(chaos);
  const generate = c.site("reports", "generate");
  return {
    get capabilities() {
      return generator.capabilities;
    },
    generate: async (definition, output, options) => {
      try {
        return await intercept(
          generate,
          () => {
            const name = Array.isArray(definition?.sheets) ? definition.sheets[0]?.name : undefined;
            return typeof name === "string" ? name : undefined;
          },
          options?.signal,
          () => generator.generate(definition, output, options),
        );
      } catch (error) {
        if (typeof output?.destroy === "function" && !output.destroyed) output.destroy();
        throw error;
      }
    },
  };
}
