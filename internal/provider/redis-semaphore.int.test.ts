import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis, deleteKeys, uniquePrefix } from "../../test/redis.ts";
import { RedisSemaphore } from "./redis-semaphore.ts";

describe("RedisSemaphore shared by two replicas", () => {
  let a: Redis;
  let b: Redis;
  const prefix = uniquePrefix("semaphore");

  beforeAll(async () => {
    a = await connectRedis();
    b = await connectRedis();
  });
  afterAll(async () => {
    await deleteKeys(a, prefix);
    a?.disconnect();
    b?.disconnect();
  });

  it("never lets more than the limit hold a slot at once, across connections", async () => {
    const key = `${prefix}:slots`;
    const replicas = [a, b].map((redis) => new RedisSemaphore({ redis, key, limit: 2, leaseMs: 10_000 }));
    let holding = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const release = await replicas[i % 2]?.acquire(Date.now() + 10_000);
        if (!release) throw new Error("no slot in time");
        holding++;
        peak = Math.max(peak, holding);
        await sleep(40);
        holding--;
        release();
      }),
    );
    expect(peak).toBe(2);
  });

  it("frees the slot of a holder that died once its lease runs out, and gives up at the deadline", async () => {
    const key = `${prefix}:lease`;
    const semaphore = new RedisSemaphore({ redis: a, key, limit: 1, leaseMs: 200 });
    expect(await semaphore.acquire(Date.now() + 1_000)).toBeDefined();
    expect(await semaphore.acquire(Date.now() + 50)).toBeUndefined();
    const started = Date.now();
    expect(await semaphore.acquire(Date.now() + 2_000)).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });
});
