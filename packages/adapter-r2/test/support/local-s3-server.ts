import { createReadStream, existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { uniqueName } from "@proj/contract-tests";
import S3rver from "s3rver";

/** The one key pair s3rver accepts. */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface LocalS3Server {
  /** `http://127.0.0.1:<port>`, path-style. */
  readonly endpoint: string;
  /** A client for setup and inspection, bypassing the adapter. */
  readonly admin: S3Client;
  /** Creates a bucket no other run uses. */
  createBucket(): Promise<string>;
  /** Empties and deletes a bucket made by `createBucket`. */
  deleteBucket(bucket: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * s3rver (a real S3-protocol server over HTTP, files on disk) in this process on 127.0.0.1.
 *
 * s3rver 3.7.1 (the newest release) falls short of S3 in ways the adapter relies on; each gap is
 * closed here, in the test setup only, and everything else is s3rver's own:
 * - it lacks `AbortMultipartUpload` (answers 405), `ListParts` (405) and `ListMultipartUploads`
 *   (501): a thin layer in front answers them from s3rver's own upload folders;
 * - its listing walks folders, so `a/b` comes before `a-b`, not in S3's UTF-8 byte order, and
 *   `Range: bytes=0-0` returns the whole object: `fixStoreDefects` corrects both in its store;
 * - its ListObjectsV2 continuation tokens use DES, which Node 20's OpenSSL only offers with
 *   `--openssl-legacy-provider` (set for the test workers in vitest.config.ts).
 * Left as they are: it checks the access key id and presigned URLs (signature and expiry) but not
 * the signature of header-signed requests, and its `DeleteObjects` fails on a numeric key such as
 * "0" (its XML parser makes it a number).
 */
export async function startLocalS3Server(): Promise<LocalS3Server> {
  const directory = await mkdtemp(join(tmpdir(), "adapter-r2-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, resetOnClose: true });
  fixStoreDefects(server);
  const { port } = await server.run();
  const [s3rverHandler] = server.httpServer.listeners("request") as RequestListener[];
  if (s3rverHandler === undefined) throw new Error("s3rver registered no request handler");
  server.httpServer.removeAllListeners("request");
  server.httpServer.on("request", (request: IncomingMessage, response: ServerResponse) => {
    handleMissingOperations(directory, request, response).then(
      (handled) => {
        if (!handled) s3rverHandler(request, response);
      },
      (error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      },
    );
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const admin = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  return {
    endpoint,
    admin,
    async createBucket() {
      const bucket = uniqueName("r2").replaceAll("_", "-");
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    async deleteBucket(bucket) {
      await emptyBucket(admin, bucket);
      // s3rver leaves the empty folders of deleted `a/b` keys behind, and then cannot delete the
      // bucket; a bucket is only a folder to it.
      await rm(join(directory, bucket), { recursive: true, force: true });
    },
    async close() {
      admin.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Deletes every object in `bucket`, page by page. */
export async function emptyBucket(client: S3Client, bucket: string, prefix?: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).map((entry) => ({ Key: entry.Key }));
    if (keys.length > 0) {
      await client
        .send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }))
        // s3rver's XML parser turns a key such as "0" into a number and fails the whole batch.
        .catch(() =>
          Promise.all(keys.map(({ Key }) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key })))),
        );
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Patches s3rver's store where it departs from S3: listing order and a first-byte range. */
function fixStoreDefects(server: S3rver): void {
  const { store } = server;
  const listObjects = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    if (options.delimiter) return listObjects(bucket, options);
    const { startAfter = "", maxKeys = Number.POSITIVE_INFINITY } = options;
    const everything = await listObjects(bucket, { prefix: options.prefix ?? "" });
    const after = everything.objects
      .sort((a, b) => byteOrder(a.key, b.key))
      .filter((object) => byteOrder(object.key, startAfter) > 0);
    return { objects: after.slice(0, maxKeys), commonPrefixes: [], isTruncated: after.length > maxKeys };
  };
  const getObject = store.getObject.bind(store);
  store.getObject = async (bucket, key, options) => {
    // s3rver reads `end: 0` as "no end"; S3 returns the first byte.
    if (options?.end !== 0) return getObject(bucket, key, options);
    const object = await getObject(bucket, key, { start: 0 });
    if (object?.content) {
      object.content.destroy();
      object.content = createReadStream(store.getResourcePath(bucket, key, "object"), { start: 0, end: 0 });
      object.range = { start: 0, end: 0 };
    }
    return object;
  };
}

const UPLOAD_ID = /^[0-9a-f]+$/;

function xml(value: string): string {
  return value.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

function sendXml(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { "content-type": "application/xml" });
  response.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

/** Answers the three multipart operations s3rver lacks; returns false for everything else. */
async function handleMissingOperations(
  directory: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<boolean> {
  const url = new URL(request.url ?? "/", "http://localhost");
  const [, bucket = "", ...keyParts] = url.pathname.split("/");
  const key = keyParts.join("/");
  const uploadsDir = join(directory, decodeURIComponent(bucket), "._S3rver_uploads");

  if (request.method === "DELETE" && url.searchParams.has("uploadId") && key !== "") {
    const uploadId = url.searchParams.get("uploadId") ?? "";
    request.resume();
    if (!UPLOAD_ID.test(uploadId) || !existsSync(join(uploadsDir, uploadId))) {
      sendXml(response, 404, `<Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>`);
    } else {
      await rm(join(uploadsDir, uploadId), { recursive: true, force: true });
      response.writeHead(204).end();
    }
    return true;
  }

  if (request.method === "GET" && url.searchParams.has("uploadId") && key !== "") {
    const uploadId = url.searchParams.get("uploadId") ?? "";
    request.resume();
    if (!UPLOAD_ID.test(uploadId) || !existsSync(join(uploadsDir, uploadId))) {
      sendXml(response, 404, `<Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>`);
      return true;
    }
    const numbers = (await readdir(join(uploadsDir, uploadId))).filter((name) => /^\d+$/.test(name));
    const parts = await Promise.all(
      numbers.map(async (number) => {
        const md5 = await readFile(join(uploadsDir, uploadId, `${number}.md5`), "utf8");
        return `<Part><PartNumber>${number}</PartNumber><ETag>"${md5}"</ETag></Part>`;
      }),
    );
    sendXml(
      response,
      200,
      `<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Key>${xml(key)}</Key><UploadId>${uploadId}</UploadId><IsTruncated>false</IsTruncated>${parts.join("")}</ListPartsResult>`,
    );
    return true;
  }

  if (request.method === "GET" && url.searchParams.has("uploads") && key === "") {
    request.resume();
    const ids = existsSync(uploadsDir) ? await readdir(uploadsDir) : [];
    const uploads = await Promise.all(
      ids
        .filter((id) => UPLOAD_ID.test(id))
        .map(async (id) => {
          const key = await readFile(join(uploadsDir, id, "key"), "utf8");
          return `<Upload><Key>${xml(key)}</Key><UploadId>${id}</UploadId></Upload>`;
        }),
    );
    sendXml(
      response,
      200,
      `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${xml(
        decodeURIComponent(bucket),
      )}</Bucket><IsTruncated>false</IsTruncated>${uploads.join("")}</ListMultipartUploadsResult>`,
    );
    return true;
  }
  return false;
}
