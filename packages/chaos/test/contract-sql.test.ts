import { runContracts } from "@proj/decorator-contracts";
import { decorated, LABEL } from "./support/decorated.js";

runContracts(LABEL, decorated, ["sql"]);
