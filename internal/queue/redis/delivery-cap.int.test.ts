import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { connectRedis, deleteKeys, uniquePrefix } from "../../../test/redis.ts";
import { loadConfig } from "../../config/index.ts";
import { encodeTrackedReference } from "../../job/queue-message.ts";
import { driverSettings } from "../open-queue.ts";
import { RedisStreamsQueue } from "./redis-streams-queue.ts";

describe("redis queue: a poison message", () => {
  const name = uniquePrefix("poison");
  const connections: Redis[] = [];
  afterEach(async () => {
    const admin = await connectRedis();
    await deleteKeys(admin, name);
    for (const connection of [admin, ...connections.splice(0)]) connection.disconnect();
  });

  /** One replica's consumer, with max_deliveries from the configuration as the service reads it. */
  const replica = async () => {
    const [redis, blockingRedis] = [await connectRedis(), await connectRedis()];
    connections.push(redis, blockingRedis);
    const settings = driverSettings(loadConfig({ env: { QUEUE_MAX_DELIVERIES: "3" }, file: false }).queue);
    const queue = new RedisStreamsQueue({
      ...settings.redis,
      redis,
      blockingRedis,
      name,
      visibilityTimeoutMs: 300,
      pollIntervalMs: 100,
    });
    await queue.init();
    const crash = () => {
      redis.disconnect();
      blockingRedis.disconnect();
    };
    return { queue, crash };
  };

  it("is dead-lettered once replicas took it max_deliveries times and never finished it", async () => {
    const first = await replica();
    // Published the way another service would: straight onto the lane's stream.
    const publisher = await connectRedis();
    connections.push(publisher);
    const body = encodeTrackedReference(randomUUID());
    await publisher.xadd(`${name}:high`, "*", "job", body);

    let taken = 0;
    const deadline = Date.now() + 15_000;
    let current = first;
    while (Date.now() < deadline && (await current.queue.stats()).dead === 0) {
      const got = await current.queue.fetch(1);
      if (got.length === 0) continue;
      taken++;
      expect(got[0]?.body).toBe(body);
      // The worker dies while processing it; the next replica takes over after the timeout.
      current.crash();
      current = await replica();
    }

    expect(taken).toBe(3);
    const [letter] = await current.queue.listDeadLetters(10);
    expect(letter).toMatchObject({ lane: "high", body, reason: "delivered 3 times without finishing" });
    expect(await current.queue.stats()).toMatchObject({
      lanes: { critical: 0, high: 0, normal: 0, low: 0 },
      in_flight: 0,
      dead: 1,
    });
    expect(await current.queue.fetch(1)).toEqual([]);
  });
});
