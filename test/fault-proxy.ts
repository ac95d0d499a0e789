import { once } from "node:events";
import { type AddressInfo, createConnection, createServer, type Socket } from "node:net";

/**
 * What the proxy does to traffic from now on: pass it, delay every chunk, swallow it (the
 * connection stays open and nothing arrives: a black hole, as a dead peer behind a firewall
 * looks), or reset every connection, open ones included.
 */
export type FaultMode =
  | { kind: "pass" }
  | { kind: "latency"; ms: number }
  | { kind: "blackhole" }
  | { kind: "reset" };

export interface FaultProxy {
  port: number;
  set(mode: FaultMode): void;
  /** Connections open through the proxy right now. */
  readonly openConnections: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a server (Redis, PostgreSQL, an SMTP relay, a Kafka broker) that injects
 * network faults on command, so that a test can reproduce what a flaky network does.
 */
export async function startFaultProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<FaultProxy> {
  let mode: FaultMode = { kind: "pass" };
  const pairs = new Set<[Socket, Socket]>();
  const forward = (from: Socket, to: Socket) =>
    from.on("data", (chunk: Buffer) => {
      if (mode.kind === "blackhole") return;
      if (mode.kind === "latency") setTimeout(() => to.writable && to.write(chunk), mode.ms);
      else if (to.writable) to.write(chunk);
    });
  const server = createServer((client) => {
    if (mode.kind === "reset") {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: targetHost, port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.on("error", end);
      socket.on("close", end);
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    set(next) {
      mode = next;
      if (next.kind === "reset")
        for (const [client, upstream] of pairs) {
          client.resetAndDestroy();
          upstream.destroy();
        }
    },
    get openConnections() {
      return pairs.size;
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      server.close();
      await once(server, "close");
    },
  };
}
