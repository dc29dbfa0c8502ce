export { readXlsx } from "./read-xlsx.js";
export { type PortWrappers, runContracts } from "./run-contracts.js";
