// s3rver ships no types; this is the part of its API the test server uses.
declare module "s3rver" {
  import type { Server } from "node:http";
  import type { Readable } from "node:stream";

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory: string;
    resetOnClose?: boolean;
  }

  interface StoredObject {
    key: string;
    size: number;
    content: Readable | null;
    range?: { start: number; end: number };
  }

  interface ListOptions {
    delimiter?: string;
    startAfter?: string;
    prefix?: string;
    maxKeys?: number;
  }

  interface FilesystemStore {
    listObjects(
      bucket: string,
      options: ListOptions,
    ): Promise<{ objects: StoredObject[]; commonPrefixes: string[]; isTruncated: boolean }>;
    getObject(
      bucket: string,
      key: string,
      options?: { start?: number; end?: number },
    ): Promise<StoredObject | null>;
    getResourcePath(bucket: string, key: string, resource: string): string;
  }

  export default class S3rver {
    constructor(options: S3rverOptions);
    store: FilesystemStore;
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    httpServer: Server;
  }
}

// The maintained fork, used where SigV4 signatures must really be checked.
declare module "@20minutes/s3rver" {
  interface ForkOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory: string;
    resetOnClose?: boolean;
    configureBuckets?: { name: string }[];
  }

  export default class S3rver {
    constructor(options: ForkOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
}
