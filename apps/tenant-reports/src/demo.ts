import { loadConfig } from "./composition/config.js";
import { runDemo } from "./demo-flow.js";

runDemo(loadConfig()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
