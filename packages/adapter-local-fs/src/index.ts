export { createLocalFileManager, type LocalFileManagerOptions } from "./local-fs-file-manager.js";
export {
  createLocalObjectStorage,
  type LocalObjectStorage,
  type LocalObjectStorageOptions,
} from "./local-fs-object-storage.js";
export { mapLocalFsError } from "./map-local-fs-error.js";
