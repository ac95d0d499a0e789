import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { queueSettings } from "../../../test/queue-settings.ts";
import { connectRedis, deleteKeys, uniquePrefix } from "../../../test/redis.ts";
import type { Lane } from "../../job/priority.ts";
import { RedisStreamsQueue } from "./redis-streams-queue.ts";

// Longer than the time the read-ahead entries may stand for the lanes' contents.
const STALE_MS = 20;

describe("redis streams read-ahead", () => {
  const connections: Redis[] = [];
  const queues: RedisStreamsQueue[] = [];
  const names: string[] = [];

  afterEach(async () => {
    for (const queue of queues.splice(0)) await queue.close();
    const [first] = connections;
    for (const name of names.splice(0)) if (first) await deleteKeys(first, name);
    for (const connection of connections.splice(0)) connection.disconnect();
  });

  async function open(readBatch: number): Promise<RedisStreamsQueue> {
    const name = uniquePrefix("read-ahead");
    const redis = await connectRedis();
    const blockingRedis = await connectRedis();
    connections.push(redis, blockingRedis);
    names.push(name);
    const queue = new RedisStreamsQueue({
      ...queueSettings().redis,
      redis,
      blockingRedis,
      name,
      readBatch,
      fairShare: 0,
      visibilityTimeoutMs: 60_000,
      pollIntervalMs: 100,
      maxDeliveries: 5,
    });
    await queue.init();
    queues.push(queue);
    return queue;
  }

  const publish = (queue: RedisStreamsQueue, lane: Lane, bodies: string[]) =>
    queue.publish(bodies.map((body) => ({ lane, body })));
  const bodies = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

  it("hands out a critical job published after a campaign's jobs were read ahead before them", async () => {
    const queue = await open(50);
    await publish(queue, "low", bodies("campaign-", 50));
    // The first fetch reads the whole batch: one goes out, the rest wait in this consumer's surplus.
    expect((await queue.fetch(1)).map((d) => d.body)).toEqual(["campaign-0"]);
    await publish(queue, "critical", ["password-reset"]);
    await sleep(STALE_MS);
    const next = await queue.fetch(1);
    expect(next.map((d) => [d.lane, d.body])).toEqual([["critical", "password-reset"]]);
    for (const delivery of next) await queue.ack(delivery);
  });

  it("fills the rest of a fetch from the surplus after the more urgent jobs", async () => {
    const queue = await open(50);
    await publish(queue, "low", bodies("campaign-", 50));
    await queue.fetch(1);
    await publish(queue, "high", ["receipt"]);
    await publish(queue, "normal", ["digest"]);
    await sleep(STALE_MS);
    const got = await queue.fetch(4);
    expect(got.map((d) => d.body)).toEqual(["receipt", "digest", "campaign-1", "campaign-2"]);
  });

  it("keeps the read-ahead jobs moving while urgent jobs keep coming", async () => {
    const queue = await open(20);
    await publish(queue, "low", bodies("campaign-", 20));
    await queue.fetch(1);
    const handedOut: string[] = [];
    for (let round = 0; round < 6; round++) {
      await publish(queue, "critical", [`critical-${round}`]);
      await sleep(STALE_MS);
      for (const delivery of await queue.fetch(1)) handedOut.push(delivery.body);
    }
    // A fetch that passed the surplus over is followed by one that hands it out, however stale.
    expect(handedOut).toEqual([
      "critical-0",
      "campaign-1",
      "critical-1",
      "campaign-2",
      "critical-2",
      "campaign-3",
    ]);
    // The critical jobs not yet handed out wait in order, ahead of the campaign's.
    const rest = await queue.fetch(3);
    expect(rest.map((d) => d.body)).toEqual(["critical-3", "critical-4", "critical-5"]);
  });
});
