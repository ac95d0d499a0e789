import type { Redis } from "ioredis";
import { queueSettings } from "../../../test/queue-settings.ts";
import { connectRedis, deleteKeys, uniquePrefix } from "../../../test/redis.ts";
import { queueContract } from "../queue.contract.ts";
import { RedisStreamsQueue } from "./redis-streams-queue.ts";

queueContract("redis streams", async (timings) => {
  const name = uniquePrefix("queue");
  const connections: Redis[] = [];
  const queues: RedisStreamsQueue[] = [];
  const open = async () => {
    const redis = await connectRedis();
    const blockingRedis = await connectRedis();
    connections.push(redis, blockingRedis);
    const queue = new RedisStreamsQueue({
      ...queueSettings().redis,
      redis,
      blockingRedis,
      name,
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
      const [first] = connections;
      if (first) await deleteKeys(first, name);
      for (const c of connections) c.disconnect();
    },
  };
});
