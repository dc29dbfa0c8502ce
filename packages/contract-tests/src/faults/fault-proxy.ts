import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * What the proxy does to traffic right now.
 *
 * - `pass`: forwards both ways (after `latencyMs`, when set).
 * - `silent`: half-open. Every socket stays open and nothing is forwarded either way, as on a
 *   network path that went dark; new connections are accepted and stay silent too.
 * - `lose-replies`: requests reach the server, its replies never come back (the server acts).
 * - `cut-on-reply`: requests reach the server; when its reply arrives the proxy drops the reply and
 *   cuts the client connection (`reset`: RST, `close`: FIN). The server acted; the caller never hears.
 * - `cut-mid-response`: forwards `afterBytes` bytes of the next reply, then cuts the client (RST).
 * - `cut-mid-request`: forwards `afterBytes` bytes of the next request, then cuts both sides (RST).
 * - `outage`: every connection is reset and the port refuses connections until `heal()`.
 * - `outage-reset`: like `outage`, but the port stays open and resets each new connection at once,
 *   so that `rejectedConnections` counts how often the adapter tried (a reconnect loop shows).
 */
export type FaultMode =
  | "pass"
  | "silent"
  | "lose-replies"
  | "cut-on-reply-reset"
  | "cut-on-reply-close"
  | "cut-mid-response"
  | "cut-mid-request"
  | "outage"
  | "outage-reset";

export interface FaultProxyOptions {
  /** The real server the proxy relays to. */
  target: { host: string; port: number };
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string;
}

/** A connection pair the proxy relays: the adapter's socket and the proxy's socket to the server. */
interface Relay {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Bytes of the current request/reply already forwarded under a `cut-mid-*` mode. */
  forwarded: number;
}

/**
 * A TCP fault proxy on loopback: real sockets between an adapter and its real server, with faults
 * switched on and off while calls run. Counts connections so a test can tell that an adapter let go
 * of a dead connection, and that an outage did not turn into a busy loop of reconnects.
 */
export class FaultProxy {
  readonly #target: { host: string; port: number };
  readonly #host: string;
  readonly #relays = new Set<Relay>();
  #server: Server | undefined;
  #port = 0;
  #mode: FaultMode = "pass";
  #latencyMs = 0;
  #afterBytes = 0;
  #accepted = 0;
  #rejected = 0;
  #closed = false;

  private constructor(options: FaultProxyOptions) {
    this.#target = options.target;
    this.#host = options.host ?? "127.0.0.1";
  }

  /** Starts a proxy to `options.target` on a free loopback port. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await proxy.#listen(0);
    return proxy;
  }

  /** Where adapters connect instead of the real server. */
  get host(): string {
    return this.#host;
  }

  get port(): number {
    return this.#port;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  /** Client connections open right now. */
  get openConnections(): number {
    return this.#relays.size;
  }

  /** Client connections accepted since the start (or the last `resetCounters()`). */
  get acceptedConnections(): number {
    return this.#accepted;
  }

  /** Connections reset on arrival under `outage-reset` since the start (or `resetCounters()`). */
  get rejectedConnections(): number {
    return this.#rejected;
  }

  resetCounters(): void {
    this.#accepted = 0;
    this.#rejected = 0;
  }

  /** Delays every chunk, both ways, by `ms` (on top of the current mode). 0 turns it off. */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  /**
   * Switches to `mode`. `afterBytes` applies to the `cut-mid-*` modes (how much of the next request
   * or reply gets through before the cut).
   */
  async set(mode: FaultMode, options: { afterBytes?: number } = {}): Promise<void> {
    if (this.#closed) throw new Error("the fault proxy is closed");
    const wasOutage = this.#mode === "outage";
    this.#mode = mode;
    this.#afterBytes = options.afterBytes ?? 0;
    for (const relay of this.#relays) relay.forwarded = 0;
    if (mode === "outage-reset") {
      for (const relay of [...this.#relays]) this.#cut(relay, "reset");
    }
    if (mode === "outage" && !wasOutage) {
      for (const relay of [...this.#relays]) this.#cut(relay, "reset");
      await this.#stopListening();
    } else if (mode !== "outage" && wasOutage) {
      await this.#listen(this.#port);
    }
  }

  /** Back to `pass` with no latency: the network is healthy again. Open connections are kept. */
  async heal(): Promise<void> {
    this.#latencyMs = 0;
    await this.set("pass");
  }

  /** Cuts every open connection now (`reset`: RST; `close`: FIN), without changing the mode. */
  cutAll(how: "reset" | "close" = "reset"): void {
    for (const relay of [...this.#relays]) this.#cut(relay, how);
  }

  /** Cuts every connection and stops listening. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.cutAll("reset");
    await this.#stopListening();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #listen(port: number): Promise<void> {
    const server = createServer({ noDelay: true }, (client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.#host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the fault proxy has no TCP port");
    this.#port = address.port;
    this.#server = server;
  }

  async #stopListening(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#mode === "outage" || this.#mode === "outage-reset" || this.#closed) {
      if (this.#mode === "outage-reset") this.#rejected += 1;
      client.on("error", () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.#accepted += 1;
    const upstream = connect({ host: this.#target.host, port: this.#target.port, noDelay: true });
    const relay: Relay = { client, upstream, forwarded: 0 };
    this.#relays.add(relay);
    client.on("data", (chunk: Buffer) => this.#later(() => this.#fromClient(relay, chunk)));
    upstream.on("data", (chunk: Buffer) => this.#later(() => this.#fromServer(relay, chunk)));
    // A FIN from one side is passed on as a FIN, unless the network is silent.
    client.on("end", () => this.#later(() => this.#mode !== "silent" && upstream.end()));
    upstream.on("end", () => this.#later(() => this.#mode !== "silent" && client.end()));
    const forget = () => {
      if (!this.#relays.delete(relay)) return;
      if (this.#mode === "silent") {
        // A dead path does not carry the close either: the other side finds out on its own.
        if (client.destroyed) upstream.destroy();
        return;
      }
      client.destroy();
      upstream.destroy();
    };
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
    client.on("close", forget);
    upstream.on("close", forget);
  }

  #later(action: () => void): void {
    if (this.#latencyMs > 0) setTimeout(action, this.#latencyMs);
    else action();
  }

  #fromClient(relay: Relay, chunk: Buffer): void {
    if (relay.client.destroyed || relay.upstream.destroyed) return;
    switch (this.#mode) {
      case "silent":
      case "outage":
      case "outage-reset":
        return;
      case "cut-mid-request": {
        const room = this.#afterBytes - relay.forwarded;
        if (room > 0) relay.upstream.write(chunk.subarray(0, room));
        relay.forwarded += Math.min(room, chunk.length);
        if (relay.forwarded >= this.#afterBytes) {
          relay.upstream.resetAndDestroy();
          this.#cut(relay, "reset");
        }
        return;
      }
      default:
        relay.upstream.write(chunk);
    }
  }

  #fromServer(relay: Relay, chunk: Buffer): void {
    if (relay.client.destroyed) return;
    switch (this.#mode) {
      case "silent":
      case "outage":
      case "outage-reset":
      case "lose-replies":
        return;
      case "cut-on-reply-reset":
        this.#cut(relay, "reset");
        return;
      case "cut-on-reply-close":
        this.#cut(relay, "close");
        return;
      case "cut-mid-response": {
        const room = this.#afterBytes - relay.forwarded;
        if (room > 0) relay.client.write(chunk.subarray(0, room));
        relay.forwarded += Math.min(room, chunk.length);
        if (relay.forwarded >= this.#afterBytes) this.#cut(relay, "reset");
        return;
      }
      default:
        relay.client.write(chunk);
    }
  }

  #cut(relay: Relay, how: "reset" | "close"): void {
    this.#relays.delete(relay);
    if (how === "reset") relay.client.resetAndDestroy();
    else relay.client.end(() => relay.client.destroy());
    relay.upstream.destroy();
  }
}

/** Starts a `FaultProxy` in front of `target`. */
export function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  return FaultProxy.start(options);
}
