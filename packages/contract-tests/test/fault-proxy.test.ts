import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { InfrastructureError } from "@proj/ports";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  expectFailsWithin,
  expectRecoversWithin,
  expectSettlesWithin,
  type FaultProxy,
  startFaultProxy,
} from "../src/index.js";

/** An echo server that counts the requests it acted on (one per line received). */
let server: Server;
let acted = 0;
let serverPort = 0;
let proxy: FaultProxy;

beforeAll(async () => {
  server = createServer((socket) => {
    socket.on("error", () => undefined);
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString();
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        acted += 1;
        socket.write(`${line}!\n`);
        newline = buffered.indexOf("\n");
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  serverPort = (server.address() as { port: number }).port;
});

afterAll(async () => {
  server.close();
});

afterEach(async () => {
  await proxy?.close();
});

async function open(): Promise<Socket> {
  const socket = connect({ host: proxy.host, port: proxy.port });
  socket.on("error", () => undefined);
  await once(socket, "connect");
  return socket;
}

/** Sends one line and resolves with the reply line, or rejects when the socket ends or errors first. */
function ask(socket: Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = "";
    const onData = (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.endsWith("\n")) done(() => resolve(reply.trimEnd()));
    };
    const onEnd = () => done(() => reject(new InfrastructureError("UNAVAILABLE", "connection ended")));
    const onError = (error: Error & { code?: string }) =>
      done(() =>
        reject(new InfrastructureError("UNAVAILABLE", error.code ?? "socket error", { cause: error })),
      );
    const done = (settle: () => void) => {
      socket.off("data", onData).off("end", onEnd).off("error", onError);
      settle();
    };
    socket.on("data", onData).on("end", onEnd).on("error", onError);
    socket.write(`${line}\n`);
  });
}

function timeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new InfrastructureError("TIMEOUT", "no reply")), ms),
    ),
  ]);
}

describe("FaultProxy", () => {
  it("relays both ways in pass mode and counts connections", async () => {
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
    const socket = await open();
    expect(await ask(socket, "hello")).toBe("hello!");
    expect(proxy.acceptedConnections).toBe(1);
    expect(proxy.openConnections).toBe(1);
    socket.destroy();
    await expectRecoversWithin(async () => {
      if (proxy.openConnections !== 0) throw new InfrastructureError("UNAVAILABLE", "still open");
    }, 2_000);
  });

  it("adds latency to every chunk", async () => {
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
    const socket = await open();
    proxy.setLatency(150);
    const started = performance.now();
    expect(await ask(socket, "slow")).toBe("slow!");
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    socket.destroy();
  });

  it("goes silent: the socket stays open, nothing arrives, the server never acts", async () => {
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
    const socket = await open();
    await ask(socket, "warm");
    const before = acted;
    await proxy.set("silent");
    await expectFailsWithin(timeout(ask(socket, "lost"), 300), 2_000, "TIMEOUT");
    expect(acted).toBe(before);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it("loses replies after the server acted", async () => {
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
    const socket = await open();
    await proxy.set("lose-replies");
    const before = acted;
    await expectFailsWithin(timeout(ask(socket, "write"), 300), 2_000, "TIMEOUT");
    expect(acted).toBe(before + 1);
    socket.destroy();
  });

  it.each(["cut-on-reply-reset", "cut-on-reply-close"] as const)(
    "%s: the server acts, the client connection is cut before the reply",
    async (mode) => {
      proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
      const socket = await open();
      await proxy.set(mode);
      const before = acted;
      const error = await expectFailsWithin(ask(socket, "write"), 2_000, "UNAVAILABLE");
      expect(error.message).toBe(mode === "cut-on-reply-reset" ? "ECONNRESET" : "connection ended");
      expect(acted).toBe(before + 1);
    },
  );

  it("cuts mid-response after the given number of bytes", async () => {
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
    const socket = await open();
    await proxy.set("cut-mid-response", { afterBytes: 3 });
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString();
    });
    await expectFailsWithin(ask(socket, "abcdef"), 2_000, "UNAVAILABLE");
    expect(received).toBe("abc");
  });

  it("cuts mid-request: the server never sees a whole request", async () => {
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
    const socket = await open();
    await proxy.set("cut-mid-request", { afterBytes: 2 });
    const before = acted;
    await expectFailsWithin(ask(socket, "abcdef"), 2_000, "UNAVAILABLE");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acted).toBe(before);
  });

  it("refuses connections during an outage and serves again once healed", async () => {
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
    const socket = await open();
    await proxy.set("outage");
    await expectFailsWithin(ask(socket, "during"), 2_000, "UNAVAILABLE");
    const refused = connect({ host: proxy.host, port: proxy.port });
    const [error] = (await once(refused, "error")) as [NodeJS.ErrnoException];
    expect(error.code).toBe("ECONNREFUSED");
    await proxy.heal();
    const again = await open();
    expect(await ask(again, "back")).toBe("back!");
    again.destroy();
  });

  it("resets each new connection during an outage-reset and counts the attempts", async () => {
    proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: serverPort } });
    const socket = await open();
    await proxy.set("outage-reset");
    await expectFailsWithin(ask(socket, "during"), 2_000, "UNAVAILABLE");
    for (let attempt = 0; attempt < 3; attempt++) {
      const refused = connect({ host: proxy.host, port: proxy.port });
      const [error] = (await once(refused, "error")) as [NodeJS.ErrnoException];
      expect(error.code).toBe("ECONNRESET");
    }
    expect(proxy.rejectedConnections).toBe(3);
    await proxy.heal();
    const again = await open();
    expect(await ask(again, "back")).toBe("back!");
    again.destroy();
  });

  it("expectSettlesWithin fails a call still pending past its bound", async () => {
    await expect(expectSettlesWithin(new Promise(() => undefined), 50, "a hung call")).rejects.toThrow(
      "a hung call was still pending after 50 ms",
    );
    await expect(expectSettlesWithin(Promise.reject(new Error("raw")), 50)).rejects.toThrow(
      "outside the taxonomy",
    );
  });
});
