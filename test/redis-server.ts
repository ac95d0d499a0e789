import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { freePort } from "./free-port.ts";

/** A redis-server of a test's own, which it may kill and start again. */
export interface RedisServer {
  url: string;
  port: number;
  /** SIGKILL, as a crash or an OOM kill would end it. */
  kill(): Promise<void>;
  /** Starts it again on the same port (and data directory, which matters with AOF). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Resolves once the redis-server (or Sentinel) on loopback `port` answers PING. Refusals while it
 * starts are expected and retried; it fails after `timeoutMs`.
 */
export async function waitForRedis(port: number, timeoutMs = 5_000): Promise<void> {
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on("error", () => {});
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        probe.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
      await sleep(50);
    }
  } finally {
    probe.disconnect();
  }
}

/**
 * The arguments of a test's redis-server: loopback `port`, working in `dir`, no RDB snapshots, and
 * no AOF unless `appendonly` (then one fsync a write, so a SIGKILL loses nothing acknowledged).
 */
export function redisServerArgs(port: number, dir: string, options: { appendonly?: boolean } = {}): string[] {
  return [
    ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""],
    ...(options.appendonly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
  ];
}

/** Runs `redis-server` with `args`, its output discarded. */
export function spawnRedisServer(args: string[]): ChildProcess {
  return spawn("redis-server", args, { stdio: "ignore" });
}

/** SIGKILLs `child` and waits for it to exit; one that has already ended (or none) is left be. */
export async function killRedisServer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

/**
 * Starts `redis-server` on a free loopback port. Without `appendonly` it keeps nothing on disk, so a
 * restart comes back empty (a Redis without persistence, or a failover to a node without the data).
 */
export async function startRedisServer(options: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "ew-redis-"));
  const args = redisServerArgs(port, dir, options);
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawnRedisServer(args);
    await waitForRedis(port);
  };
  const kill = () => killRedisServer(child);
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
