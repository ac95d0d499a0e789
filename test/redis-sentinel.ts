import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./free-port.ts";
import { killRedisServer, redisServerArgs, spawnRedisServer, waitForRedis } from "./redis-server.ts";
import { until } from "./until.ts";

export const SENTINEL_MASTER = "mymaster";

/** A master, its replica and three Sentinels watching them, all of a test's own. */
export interface RedisSentinelSetup {
  /** The Sentinels as `127.0.0.1:port`, the form REDIS_SENTINELS takes. */
  sentinels: string[];
  /** The port of the server the Sentinels currently name as master. */
  masterPort(): Promise<number>;
  /** SIGKILLs the current master, as a node crash does; the Sentinels promote the replica. */
  killMaster(): Promise<number>;
  /**
   * SENTINEL FAILOVER: a planned switch. The old master stays up and becomes a replica, answering
   * writes from clients still connected to it with READONLY.
   */
  failover(): Promise<number>;
  stop(): Promise<void>;
}

/** Runs one command on a short-lived connection. */
async function ask(port: number, ...command: [string, ...(string | number)[]]): Promise<unknown> {
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on("error", () => {});
  try {
    await client.connect();
    return await client.call(...command);
  } finally {
    client.disconnect();
  }
}

/** `until`, counting a check that throws (a node not answering yet) as one that does not hold. */
function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  return until(() => check().catch(() => false), timeoutMs, what);
}

/** SENTINEL MASTER's flat field list as a record. */
function fields(reply: unknown): Record<string, string> {
  const list = reply as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i] as string] = list[i + 1] as string;
  return out;
}

/**
 * Starts a master, a replica (`--replicaof`) and three Sentinels (quorum 2, down-after 1 s, failover
 * timeout 5 s) on free loopback ports, each Sentinel with its own writable config file because
 * Sentinels rewrite theirs as they learn the topology. Returns once every Sentinel knows the replica
 * and the other two, and the replica is in sync, so a failover can happen at once.
 */
export async function startRedisSentinel(): Promise<RedisSentinelSetup> {
  const dir = mkdtempSync(join(tmpdir(), "ew-redis-sentinel-"));
  const children = new Map<number, ChildProcess>();
  const start = (port: number, args: string[]) => {
    children.set(port, spawnRedisServer(args));
  };
  const kill = (port: number) => killRedisServer(children.get(port));
  const stop = async () => {
    await Promise.all([...children.keys()].map(kill));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [masterPort, replicaPort] = [await freePort(), await freePort()];
    const dataNode = (port: number, extra: string[]) => {
      const data = join(dir, String(port));
      mkdirSync(data);
      start(port, [...redisServerArgs(port, data), ...extra]);
    };
    dataNode(masterPort, []);
    dataNode(replicaPort, ["--replicaof", "127.0.0.1", String(masterPort)]);
    await Promise.all([waitForRedis(masterPort), waitForRedis(replicaPort)]);

    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
          "",
        ].join("\n"),
      );
      start(port, [conf, "--sentinel"]);
      sentinelPorts.push(port);
    }
    await Promise.all(sentinelPorts.map((port) => waitForRedis(port)));
    await waitUntil(
      async () => {
        const info = String(await ask(masterPort, "INFO", "replication"));
        return /slave0:.*state=online/.test(info);
      },
      20_000,
      "the replica to be in sync",
    );
    for (const port of sentinelPorts)
      await waitUntil(
        async () => {
          const master = fields(await ask(port, "SENTINEL", "MASTER", SENTINEL_MASTER));
          return master["num-slaves"] === "1" && master["num-other-sentinels"] === "2";
        },
        20_000,
        `Sentinel ${port} to know the replica and the other Sentinels`,
      );

    const masterPortNow = async () => {
      const [, port] = (await ask(
        sentinelPorts[0] as number,
        "SENTINEL",
        "GET-MASTER-ADDR-BY-NAME",
        SENTINEL_MASTER,
      )) as [string, string];
      return Number(port);
    };
    return {
      sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`),
      masterPort: masterPortNow,
      async killMaster() {
        const port = await masterPortNow();
        await kill(port);
        return port;
      },
      async failover() {
        const port = await masterPortNow();
        await ask(sentinelPorts[0] as number, "SENTINEL", "FAILOVER", SENTINEL_MASTER);
        return port;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
