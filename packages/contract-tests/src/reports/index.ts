import { describe } from "vitest";
import { backPressureTests } from "./back-pressure.js";
import { basicTests } from "./basic.js";
import { csvTests } from "./csv.js";
import { definitionTests } from "./definitions.js";
import { failureTests } from "./failures.js";
import type { ReportGeneratorHarness } from "./harness.js";
import { rolloverTests } from "./rollover.js";
import { valueTests } from "./values.js";

export type {
  ReadBackCell,
  ReadBackSheet,
  ReportGeneratorHarness,
} from "./harness.js";

/** The `ReportGenerator` contract: every sentence of the port's doc comment, per declared format. */
export function reportGeneratorContract(name: string, harness: ReportGeneratorHarness): void {
  describe(`ReportGenerator contract: ${name}`, () => {
    basicTests(harness);
    valueTests(harness);
    csvTests(harness);
    definitionTests(harness);
    failureTests(harness);
    backPressureTests(harness);
    rolloverTests(harness);
  });
}
