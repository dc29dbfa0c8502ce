import { connect, createServer, type Server, type Socket } from "node:net";

/** One client connection through the proxy and its upstream twin. */
interface Link {
  client: Socket;
  upstream: Socket | undefined;
  /** Forwards nothing either way, for ever: a connection whose path died without a FIN or RST. */
  dead: boolean;
}

type Mode = "forward" | "silent" | "reset";

/**
 * A TCP relay between the adapter and Redis, so a test can take "Redis" down, bring it back on the
 * same port, make it stop answering, or cut the network silently, without touching the Redis other
 * tests share. Real sockets on loopback; nothing is mocked.
 */
export class TcpProxy {
  #server: Server | undefined;
  readonly #links = new Set<Link>();
  #port = 0;
  #stalled = false;
  #mode: Mode = "forward";
  #accepted = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await proxy.listen(0);
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /** Connections accepted so far (reconnect attempts show up here). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Client connections the proxy still holds open. */
  get openConnections(): number {
    return this.#links.size;
  }

  /** Stops relaying server replies: commands reach Redis, answers never come back. */
  stall(): void {
    this.#stalled = true;
  }

  /**
   * Half-open: every open connection goes silent for good (sockets stay open, nothing is forwarded
   * either way, no FIN, no RST), and new connections are accepted but silent too, until `heal`.
   */
  silence(): void {
    this.#mode = "silent";
    for (const link of this.#links) link.dead = true;
  }

  /** An outage that answers: every new connection is accepted and reset at once, until `heal`. */
  resetNewConnections(): void {
    this.#mode = "reset";
    for (const link of [...this.#links]) this.#drop(link);
  }

  /** The network is back: new connections are relayed again. Connections silenced stay dead. */
  heal(): void {
    this.#mode = "forward";
    this.#stalled = false;
  }

  /** Drops every connection and stops listening, as a Redis that went down. */
  async stop(): Promise<void> {
    for (const link of [...this.#links]) this.#drop(link);
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port, as a Redis that came back. */
  async restart(): Promise<void> {
    this.#stalled = false;
    this.#mode = "forward";
    await this.listen(this.#port);
  }

  #drop(link: Link): void {
    link.client.destroy();
    link.upstream?.destroy();
    this.#links.delete(link);
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((client) => {
      this.#accepted++;
      if (this.#mode === "reset") {
        client.resetAndDestroy();
        return;
      }
      const link: Link = { client, upstream: undefined, dead: this.#mode === "silent" };
      this.#links.add(link);
      const drop = () => this.#drop(link);
      client.on("error", drop);
      client.on("close", drop);
      if (link.dead) return;
      const upstream = connect(this.targetPort, this.targetHost);
      link.upstream = upstream;
      client.on("data", (chunk) => {
        if (!link.dead) upstream.write(chunk);
      });
      upstream.on("data", (chunk) => {
        if (!link.dead && !this.#stalled) client.write(chunk);
      });
      upstream.on("error", drop);
      upstream.on("close", () => {
        // A dead path never tells the client that the server went away.
        if (!link.dead) drop();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the proxy has no TCP port");
    this.#port = address.port;
    this.#server = server;
  }
}
