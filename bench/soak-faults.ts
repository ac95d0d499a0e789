import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import type { PostgresServer } from "../test/postgres-server.ts";
import type { RedisServer } from "../test/redis-server.ts";
import type { SinkProcess } from "../test/smtp-sink-process.ts";

export type FaultName = "redis-restart" | "smtp-stall" | "postgres-restart";

export const SMTP_STALL_MS = 10_000;

/**
 * AOF with `appendfsync everysec`, as the README advises for production: the test helper starts
 * Redis with `always`, and a restart starts it with its arguments again, so this is set after each
 * start.
 */
export async function useEverySecondFsync(redis: RedisServer): Promise<void> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    await client.config("SET", "appendfsync", "everysec");
  } finally {
    client.disconnect();
  }
}

export interface FaultTargets {
  redis: RedisServer;
  sink: SinkProcess;
  postgres: PostgresServer;
}

/** Injects one fault and returns once it is over (the server back, the sink answering again). */
export async function injectFault(name: FaultName, targets: FaultTargets): Promise<void> {
  switch (name) {
    case "redis-restart":
      // SIGKILL, as a crash or an OOM kill; the AOF brings the data back.
      await targets.redis.kill();
      await targets.redis.start();
      await useEverySecondFsync(targets.redis);
      return;
    case "smtp-stall":
      // The relay's process stops answering with its connections open: a hung relay.
      process.kill(targets.sink.pid, "SIGSTOP");
      try {
        await sleep(SMTP_STALL_MS);
      } finally {
        process.kill(targets.sink.pid, "SIGCONT");
      }
      return;
    case "postgres-restart":
      // `-m immediate`: no checkpoint, as a crash; crash recovery on start.
      await targets.postgres.stop();
      await targets.postgres.start();
      return;
  }
}
