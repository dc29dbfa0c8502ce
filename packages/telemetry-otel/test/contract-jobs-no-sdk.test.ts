import { runContracts } from "@proj/decorator-contracts";
import { instrumented } from "./support/decorated.js";

// No SDK registered and none given: nothing is traced, payloads go unwrapped (unless they have the
// envelope's shape), and the payload limit still keeps the envelope's reserve.
runContracts("through instrumentJobQueue with no SDK", instrumented(), ["jobs"]);
