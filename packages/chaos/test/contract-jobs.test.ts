import { runContracts } from "./support/contracts.js";
import { decorated, LABEL } from "./support/decorated.js";

runContracts(LABEL, decorated, ["jobs"]);
