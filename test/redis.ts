import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

export function redisUrl(): string {
  return process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";
}

/** A connection for a test; fails with a clear message when Redis is not running. */
export async function connectRedis(): Promise<Redis> {
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`tests need Redis at ${redisUrl()}; start it or set TEST_REDIS_URL`, { cause: error });
  }
  return redis;
}

/** A key prefix no other test (or run) uses. */
export function uniquePrefix(label: string): string {
  return `ew-test:${label}:${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
}
