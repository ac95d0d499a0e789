import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { queueSettings } from "../../../test/queue-settings.ts";
import { connectRedis, deleteKeys, uniquePrefix } from "../../../test/redis.ts";
import { encodeJob } from "../../job/queue-message.ts";
import { type QueueDataLoss, RedisStreamsQueue } from "./redis-streams-queue.ts";

const job = (n: number) =>
  encodeJob({
    id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    type: "welcome_email",
    recipient_email: `u${n}@example.org`,
    subject: "Hi",
    text: "Hi",
    template_data: {},
    headers: {},
    attachments: [],
    priority: 0,
    tracked: false,
    max_retries: 3,
    metadata: {},
  } as unknown as Parameters<typeof encodeJob>[0]);

/**
 * Redis coming back without the queue's keys, as after a restart without persistence, a flush or a
 * failover to a node without the data: consumption must go on, and the loss be reported.
 */
describe("redis queue after Redis lost its keys", () => {
  const name = uniquePrefix("loss");
  const connections: Redis[] = [];
  const queues: RedisStreamsQueue[] = [];
  afterEach(async () => {
    for (const queue of queues.splice(0)) await queue.close().catch(() => {});
    const admin = await connectRedis();
    await deleteKeys(admin, name);
    for (const connection of [admin, ...connections.splice(0)]) connection.disconnect();
  });

  async function open(events: QueueDataLoss[]) {
    const [redis, blockingRedis] = [await connectRedis(), await connectRedis()];
    connections.push(redis, blockingRedis);
    const queue = new RedisStreamsQueue({
      ...queueSettings().redis,
      redis,
      blockingRedis,
      name,
      pollIntervalMs: 100,
      onRecreated: (event) => events.push(event),
    });
    await queue.init();
    queues.push(queue);
    return { queue, redis };
  }

  it("makes the group again, reports the data lost with what was last seen, and delivers new jobs", async () => {
    const events: QueueDataLoss[] = [];
    const { queue, redis } = await open(events);
    await queue.publish([{ lane: "normal", body: job(1) }]);
    await queue.publish([{ lane: "low", body: job(2), run_at: new Date(Date.now() + 60_000) }]);
    expect(await queue.stats()).toMatchObject({ delayed: 1, lanes: { normal: 1 } });

    await deleteKeys(redis, name);
    expect(await queue.stats()).toMatchObject({ delayed: 0, dead: 0, in_flight: 0 });
    await queue.publish([{ lane: "normal", body: job(3) }]);
    const got = await queue.fetch(10);
    expect(got.map((d) => d.body)).toEqual([job(3)]);
    expect(events).toEqual([
      expect.objectContaining({
        dataLost: true,
        lastSeen: expect.objectContaining({ delayed: 1, lanes: expect.objectContaining({ normal: 1 }) }),
        cause: expect.stringContaining("NOGROUP"),
      }),
    ]);
  });

  it("recovers in a fetch that is already waiting, and on every replica at once, reporting once each", async () => {
    const eventsA: QueueDataLoss[] = [];
    const eventsB: QueueDataLoss[] = [];
    const a = await open(eventsA);
    const b = await open(eventsB);
    await deleteKeys(a.redis, name);
    const [fromA, fromB] = await Promise.all([a.queue.fetch(5), b.queue.fetch(5)]);
    expect([...fromA, ...fromB]).toEqual([]);
    await a.queue.publish([1, 2, 3, 4].map((n) => ({ lane: "high" as const, body: job(n) })));
    const taken = [...(await a.queue.fetch(10)), ...(await b.queue.fetch(10))];
    expect(taken.map((d) => d.body).sort()).toEqual([1, 2, 3, 4].map(job).sort());
    expect(eventsA.map((e) => e.dataLost)).toEqual([true]);
    expect(eventsB.map((e) => e.dataLost)).toEqual([true]);
  });

  it("makes a destroyed group again without calling it data loss when the streams' data is still there", async () => {
    const events: QueueDataLoss[] = [];
    const { queue, redis } = await open(events);
    await queue.publish([{ lane: "normal", body: job(7) }]);
    await redis.xgroup("DESTROY", `${name}:normal`, queueSettings().redis.group);
    const got = await queue.fetch(5);
    expect(got.map((d) => d.body)).toEqual([job(7)]);
    expect(events).toEqual([expect.objectContaining({ dataLost: false })]);
  });
});
