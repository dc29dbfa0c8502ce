import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  /** Path and query, as the client sent them. */
  url: string;
  headers: IncomingHttpHeaders;
}

/**
 * What the proxy does with one request: pass it on, answer with an S3 error document, cut the
 * connection once some of the body has arrived, never answer, or pass it on and cut the connection
 * when the server's answer arrives (`lose-reply`: the server acted, the client never hears).
 */
export type Fault =
  | "forward"
  | { status: number; code: string; body?: string }
  | "drop"
  | "hang"
  | "lose-reply";

export interface FaultProxy {
  readonly endpoint: string;
  /** Every request received, in order, faulted or not. */
  readonly requests: ProxiedRequest[];
  close(): Promise<void>;
}

/** An HTTP proxy on 127.0.0.1 that forwards to `target` unless `decide` injects a fault. */
export async function startFaultProxy(
  target: string,
  decide: (request: ProxiedRequest, index: number) => Fault,
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const upstream = new URL(target);
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const seen: ProxiedRequest = {
      method: request.method ?? "GET",
      url: request.url ?? "/",
      headers: request.headers,
    };
    const fault = decide(seen, requests.length);
    requests.push(seen);
    if (fault === "forward" || fault === "lose-reply") {
      const outgoing = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: seen.method,
          path: seen.url,
          headers: request.headers,
        },
        (answer) => {
          if (fault === "lose-reply") {
            answer.resume();
            answer.once("end", () => request.socket.destroy());
            return;
          }
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      outgoing.on("error", () => response.destroy());
      request.pipe(outgoing);
    } else if (fault === "drop") {
      // Cut the connection once the upload is under way (or at once, for a request without a body).
      const cut = () => request.socket.destroy();
      request.once("data", cut);
      request.once("end", cut);
    } else if (fault === "hang") {
      request.resume();
    } else {
      request.resume();
      request.once("end", () => {
        response.writeHead(fault.status, { "content-type": "application/xml" });
        response.end(
          fault.body ??
            `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>injected by the test proxy</Message></Error>`,
        );
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** True for a request that uploads one part of a multipart upload. */
export function isUploadPart(request: ProxiedRequest): boolean {
  return request.method === "PUT" && /[?&]partNumber=/.test(request.url);
}
