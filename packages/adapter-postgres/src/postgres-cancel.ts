import { connect } from "node:net";

/** What a protocol-level cancel request needs from a `pg.Client`; absent on foreign clients. */
interface BackendKey {
  host?: unknown;
  port?: unknown;
  processID?: unknown;
  secretKey?: unknown;
}

const CANCEL_REQUEST_CODE = 80877102;

/**
 * Sends PostgreSQL's CancelRequest for the backend `client` is connected to, over a short-lived
 * socket of its own, so the running statement stops on the server and not only in this process.
 * Fire and forget: if the request is lost, the statement merely runs to its end. The socket is
 * destroyed after `lifetimeMs` at the latest, so a silent network cannot keep it open. Returns false
 * when the client does not expose its backend key (not a `pg.Client`).
 */
export function sendCancelRequest(client: unknown, lifetimeMs: number): boolean {
  const { host, port, processID, secretKey } = client as BackendKey;
  if (typeof processID !== "number" || typeof secretKey !== "number") return false;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  const serverPort = typeof port === "number" ? port : 5432;
  const serverHost = typeof host === "string" && host.length > 0 ? host : "localhost";
  const socket = serverHost.startsWith("/")
    ? connect(`${serverHost}/.s.PGSQL.${serverPort}`)
    : connect(serverPort, serverHost);
  const limit = setTimeout(() => socket.destroy(), lifetimeMs);
  limit.unref();
  socket.on("error", () => socket.destroy());
  socket.on("close", () => clearTimeout(limit));
  socket.end(packet);
  return true;
}
