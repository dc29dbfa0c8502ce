export { withoutMemberSets } from "./member-sets.js";
export { readXlsx } from "./read-xlsx.js";
export { type PortWrappers, runContracts } from "./run-contracts.js";
export { withoutBatchWrites } from "./without-batch-writes.js";
