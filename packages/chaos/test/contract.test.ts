import { runContracts } from "@proj/decorator-contracts";
import { decorated, LABEL } from "./support/decorated.js";

// The ports without a backend to start; SQL and jobs run in files of their own, in parallel.
runContracts(LABEL, decorated, [
  "cache",
  "objectStorage",
  "documents",
  "tenants",
  "tokens",
  "localFiles",
  "reports",
]);
