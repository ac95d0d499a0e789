import { type ChildProcess, execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { Cluster } from "ioredis";
import { freePort } from "./free-port.ts";
import { killRedisServer, redisServerArgs, spawnRedisServer, waitForRedis } from "./redis-server.ts";

const run = promisify(execFile);

/** A Redis Cluster of a test's own: three masters, no replicas, every slot covered. */
export interface RedisCluster {
  /** The nodes as `127.0.0.1:port`, the form REDIS_CLUSTER_NODES takes. */
  nodes: string[];
  /** A client for the test itself. */
  connect(): Promise<Cluster>;
  stop(): Promise<void>;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && !taken.has(port) && (await isFree(port + 10_000))) return port;
  }
}

/** Every node reports cluster_state:ok, so a client started now sees all slots served. */
async function waitForClusterOk(ports: number[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (const port of ports) {
    for (;;) {
      const { stdout } = await run("redis-cli", ["-p", String(port), "CLUSTER", "INFO"]);
      if (stdout.includes("cluster_state:ok")) break;
      if (Date.now() > deadline) throw new Error(`the cluster did not come up on port ${port}:\n${stdout}`);
      await sleep(100);
    }
  }
}

/**
 * Starts three `redis-server --cluster-enabled yes` on free loopback ports in a temp directory and
 * joins them with `redis-cli --cluster create`. Without persistence: each test run starts empty.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "ew-redis-cluster-"));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(killRedisServer));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) ports.push(await clusterPort(new Set(ports)));
    for (const port of ports) {
      const args = [
        ...redisServerArgs(port, dir),
        ...["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--daemonize", "no"],
      ];
      children.push(spawnRedisServer(args));
    }
    await Promise.all(ports.map((port) => waitForRedis(port)));
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await run("redis-cli", ["--cluster", "create", ...nodes, "--cluster-replicas", "0", "--cluster-yes"]);
    await waitForClusterOk(ports);
    return {
      nodes,
      async connect() {
        const cluster = new Cluster(
          ports.map((port) => ({ host: "127.0.0.1", port })),
          { lazyConnect: true },
        );
        await cluster.connect();
        return cluster;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
