import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { freePort } from "./free-port.ts";

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

async function ping(port: number): Promise<void> {
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on("error", () => {});
  try {
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        probe.disconnect();
        await sleep(50);
      }
    }
    throw new Error(`no answer on port ${port}`);
  } finally {
    probe.disconnect();
  }
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

/** Polls until `check` holds, failing with `what` after `timeoutMs`. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
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
    children.set(port, spawn("redis-server", args, { stdio: "ignore" }));
  };
  const kill = async (port: number) => {
    const child = children.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  };
  const stop = async () => {
    await Promise.all([...children.keys()].map(kill));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [masterPort, replicaPort] = [await freePort(), await freePort()];
    const dataNode = (port: number, extra: string[]) => {
      const data = join(dir, String(port));
      mkdirSync(data);
      start(port, [
        ...["--port", String(port), "--bind", "127.0.0.1", "--dir", data, "--save", "", "--appendonly", "no"],
        ...extra,
      ]);
    };
    dataNode(masterPort, []);
    dataNode(replicaPort, ["--replicaof", "127.0.0.1", String(masterPort)]);
    await Promise.all([ping(masterPort), ping(replicaPort)]);

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
    await Promise.all(sentinelPorts.map(ping));
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
