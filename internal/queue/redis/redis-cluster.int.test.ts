import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueSettings } from "../../../test/queue-settings.ts";
import { type RedisCluster, startRedisCluster } from "../../../test/redis-cluster.ts";
import { loadConfig } from "../../config/index.ts";
import { RedisSemaphore } from "../../provider/redis-semaphore.ts";
import { idempotencyContract } from "../idempotency.contract.ts";
import { queueContract } from "../queue.contract.ts";
import { connectRedis, type RedisClient } from "./connect-redis.ts";
import { queueKeys } from "./queue-keys.ts";
import { RedisIdempotencyStore } from "./redis-idempotency-store.ts";
import { RedisStreamsQueue } from "./redis-streams-queue.ts";

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => cluster?.stop());

/** Connects the way the service does when REDIS_CLUSTER_NODES is set. */
function connect(name: string): Promise<RedisClient> {
  const settings = loadConfig({ env: { REDIS_CLUSTER_NODES: cluster.nodes.join(",") }, file: false }).queue
    .redis;
  return connectRedis(settings, name);
}

const uniqueName = (label: string) => `ew-test-${label}-${randomUUID().slice(0, 8)}`;

// Every script and MULTI the queue runs touches several keys: on a cluster they fail with CROSSSLOT
// unless the keys share a slot, so the whole contract passing proves the tagged layout holds.
queueContract("redis streams on a 3-master Redis Cluster", async (timings) => {
  const name = uniqueName("queue");
  const connections: RedisClient[] = [];
  const queues: RedisStreamsQueue[] = [];
  const open = async () => {
    const redis = await connect("test");
    const blockingRedis = await connect("test-blocking");
    connections.push(redis, blockingRedis);
    const queue = new RedisStreamsQueue({
      ...queueSettings().redis,
      redis,
      blockingRedis,
      name,
      hashTags: true,
      visibilityTimeoutMs: timings.visibilityTimeoutMs,
      pollIntervalMs: timings.pollIntervalMs,
      maxDeliveries: timings.maxDeliveries,
    });
    await queue.init();
    queues.push(queue);
    return queue;
  };
  const queue = await open();
  return {
    queue,
    anotherConsumer: open,
    async cleanup() {
      for (const q of queues) await q.close();
      for (const c of connections) c.disconnect();
    },
  };
});

idempotencyContract("a 3-master Redis Cluster", async () => {
  const redis = await connect("test-idempotency");
  return {
    store: new RedisIdempotencyStore(redis, uniqueName("idem"), true),
    async close() {
      redis.disconnect();
    },
  };
});

describe("a queue's keys on a Redis Cluster", () => {
  it("all hash to one slot, so they live on one node", async () => {
    const redis = await connect("test-slots");
    try {
      const keys = queueKeys("email-jobs", true);
      const all = [
        ...Object.values(keys.streams),
        keys.delayed,
        keys.dead,
        keys.instance,
        `${keys.idempotencyPrefix}order-1`,
        `${keys.ratePrefix}:slots:smtp`,
      ];
      const slots = new Set(await Promise.all(all.map((key) => redis.cluster("KEYSLOT", key))));
      expect(slots.size).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it("serve a provider's concurrency slots, which are taken and freed through a script", async () => {
    const redis = await connect("test-semaphore");
    try {
      const key = `${queueKeys(uniqueName("gate"), true).ratePrefix}:slots:smtp`;
      const semaphore = new RedisSemaphore({ redis, key, limit: 1, leaseMs: 10_000 });
      const release = await semaphore.acquire(Date.now() + 1_000);
      expect(release).toBeDefined();
      expect(await semaphore.acquire(Date.now() + 100)).toBeUndefined();
      release?.();
      await expect.poll(() => redis.zcard(key)).toBe(0);
      expect(await semaphore.acquire(Date.now() + 1_000)).toBeDefined();
    } finally {
      redis.disconnect();
    }
  });
});
