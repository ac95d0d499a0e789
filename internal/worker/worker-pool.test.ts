import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Lane } from "../job/priority.ts";
import type { Delivery, JobQueue } from "../queue/queue.ts";
import { BulkThrottle } from "./bulk-throttle.ts";
import { WorkerPool } from "./worker-pool.ts";

/** A queue holding `count` deliveries, handed out as asked; only fetch matters to the pool. */
function queueOf(count: number): JobQueue {
  let next = 0;
  return {
    async fetch(max: number, signal?: AbortSignal) {
      const out: Delivery[] = [];
      while (out.length < max && next < count)
        out.push({ id: String(next++), lane: "normal", body: "{}", attempt: 0, redelivered: false });
      if (out.length === 0 && !signal?.aborted) await new Promise((resolve) => setTimeout(resolve, 5));
      return out;
    },
  } as unknown as JobQueue;
}

const silent = pino({ level: "silent" });

describe("WorkerPool", () => {
  it("runs every delivery, never more than its concurrency at once", async () => {
    let running = 0;
    let most = 0;
    let done = 0;
    const pool = new WorkerPool({
      queue: queueOf(500),
      handler: {
        async process() {
          running++;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          running--;
          done++;
        },
      },
      concurrency: 7,
      batchSize: 5,
      jobTimeoutMs: 5_000,
      logger: silent,
    });
    pool.start();
    while (done < 500) await new Promise((resolve) => setTimeout(resolve, 5));
    await pool.stop(1_000);
    expect(most).toBe(7);
  });

  it("stops while full of jobs that never finish: their time runs out at the deadline", async () => {
    const aborted: boolean[] = [];
    const pool = new WorkerPool({
      queue: queueOf(100),
      handler: {
        process: (_delivery, signal) =>
          new Promise<void>((resolve) => {
            signal?.addEventListener("abort", () => {
              aborted.push(true);
              resolve();
            });
          }),
      },
      concurrency: 4,
      batchSize: 4,
      jobTimeoutMs: 60_000,
      logger: silent,
    });
    pool.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Before a stop could wake a full pool, this waited forever for a slot.
    await pool.stop(100);
    expect(aborted).toHaveLength(4);
  });
});

describe("WorkerPool's released slots", () => {
  /** A handler whose jobs send at once, release their slot, then record only when `open()` is called. */
  function recordingGate() {
    let open!: () => void;
    const recorded = new Promise<void>((resolve) => {
      open = resolve;
    });
    const counts = { started: 0, done: 0 };
    const handler = {
      async process(_delivery: Delivery, _signal: AbortSignal, release: () => void) {
        counts.started++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        release();
        await recorded;
        counts.done++;
      },
    };
    return { handler, counts, open: () => open() };
  }

  async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  /** A started pool of two slots over `count` deliveries, its jobs held at recording by `gate`. */
  function startedPool(count: number, gate: ReturnType<typeof recordingGate>): WorkerPool {
    const pool = new WorkerPool({
      queue: queueOf(count),
      handler: gate.handler,
      concurrency: 2,
      batchSize: 2,
      jobTimeoutMs: 5_000,
      logger: silent,
    });
    pool.start();
    return pool;
  }

  it("starts another job in a released slot, but lets at most `concurrency` jobs finish outside their slots", async () => {
    const gate = recordingGate();
    const pool = startedPool(10, gate);
    // Two jobs released their slots and are recording; two more took the slots and, with no room
    // left to finish outside them, keep them: nothing else starts until a recording ends.
    await until(() => gate.counts.started === 4 && pool.finishing === 2);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(gate.counts.started).toBe(4);
    expect(pool.inFlight).toBe(2);
    gate.open();
    await until(() => gate.counts.done === 10);
    await pool.stop(1_000);
    expect(pool.finishing).toBe(0);
  });

  it("waits at shutdown for jobs that are still recording outside their slots", async () => {
    const gate = recordingGate();
    const pool = startedPool(1, gate);
    await until(() => pool.finishing === 1);
    let stopped = false;
    const stopping = pool.stop(5_000).then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(stopped).toBe(false);
    gate.open();
    await stopping;
    expect(gate.counts.done).toBe(1);
  });
});

describe("WorkerPool's consumer state", () => {
  it("stops ticking and reports why while fetches fail, and recovers when they work again", async () => {
    let failing = true;
    const states: boolean[] = [];
    const queue = {
      async fetch() {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (failing) throw new Error("NOGROUP No such key 'q:normal' or consumer group 'g'");
        return [];
      },
    } as unknown as JobQueue;
    const pool = new WorkerPool({
      queue,
      handler: { process: async () => {} },
      concurrency: 2,
      batchSize: 2,
      jobTimeoutMs: 1_000,
      logger: silent,
      onConsumerStateChange: (up) => states.push(up),
    });
    const before = pool.lastTick.getTime();
    pool.start();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(pool.lastTick.getTime()).toBe(before);
    expect(pool.consumerFailure).toMatchObject({ error: expect.stringContaining("NOGROUP") });
    const since = pool.consumerFailure?.since;

    failing = false;
    // Failed fetches back off (200 ms, 400 ms, …) before the next try.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await pool.stop(1_000);
    expect(pool.consumerFailure).toBeUndefined();
    expect(pool.lastTick.getTime()).toBeGreaterThan(since?.getTime() ?? Number.POSITIVE_INFINITY);
    expect(states).toEqual([false, true]);
  });
});

describe("WorkerPool's bulk throttle", () => {
  /** A queue handing out its deliveries of `lanes`, in that order, as asked. */
  function queueOfLanes(lanes: Lane[]): JobQueue {
    let next = 0;
    return {
      async fetch(max: number, signal?: AbortSignal) {
        const out: Delivery[] = [];
        while (out.length < max && next < lanes.length)
          out.push({
            id: String(next),
            lane: lanes[next++] as Lane,
            body: "{}",
            attempt: 0,
            redelivered: false,
          });
        if (out.length === 0 && !signal?.aborted) await new Promise((resolve) => setTimeout(resolve, 5));
        return out;
      },
    } as unknown as JobQueue;
  }

  /** Runs `lanes` through a pool of 8 slots with bulk jobs held to a quarter while critical ones flow. */
  async function run(lanes: Lane[], jobMs: number, jobTimeoutMs = 5_000) {
    const working = { low: 0, other: 0 };
    const most = { low: 0, other: 0 };
    const ended: { id: string; lane: Lane; abortedAtStart: boolean }[] = [];
    const events: string[] = [];
    const pool = new WorkerPool({
      queue: queueOfLanes(lanes),
      handler: {
        async process(delivery, signal) {
          const abortedAtStart = signal.aborted;
          events.push(`start ${delivery.id}`);
          const kind = delivery.lane === "low" ? "low" : "other";
          working[kind]++;
          most[kind] = Math.max(most[kind], working[kind]);
          await new Promise((resolve) => setTimeout(resolve, jobMs));
          working[kind]--;
          ended.push({ id: delivery.id, lane: delivery.lane, abortedAtStart });
          events.push(`end ${delivery.id}`);
        },
      },
      concurrency: 8,
      batchSize: 8,
      jobTimeoutMs,
      logger: silent,
      bulkThrottle: new BulkThrottle({ concurrency: 8, share: 0.25 }),
    });
    pool.start();
    while (ended.length < lanes.length) await new Promise((resolve) => setTimeout(resolve, 5));
    await pool.stop(1_000);
    return { most, ended, events };
  }

  it("holds low-priority jobs to their share once a critical job has been taken, and runs every job", async () => {
    const lanes: Lane[] = ["critical", ...Array.from({ length: 40 }, (): Lane => "low"), "critical", "high"];
    const { most, ended } = await run(lanes, 10);
    expect(most.low).toBe(2);
    expect(ended).toHaveLength(lanes.length);
    expect(ended.filter((job) => job.abortedAtStart)).toEqual([]);
  });

  it("gives low-priority jobs every slot while no critical or high job has come", async () => {
    const { most } = await run(
      Array.from({ length: 40 }, (): Lane => "low"),
      10,
    );
    expect(most.low).toBe(8);
  });

  it("hands a low-priority job whose time ran out while it waited for its turn on at once, its signal aborted", async () => {
    // Two low-priority jobs work at once, 100 ms each; the fifth's 150 ms run out while it waits.
    const { ended, events } = await run(["critical", "low", "low", "low", "low", "low"], 100, 150);
    expect(ended).toHaveLength(6);
    const byId = new Map(ended.map((job) => [job.id, job.abortedAtStart]));
    expect([byId.get("1"), byId.get("2"), byId.get("5")]).toEqual([false, false, true]);
    // It did not wait for a turn that would have come only when the third or fourth ended.
    expect(events.indexOf("start 5")).toBeLessThan(events.indexOf("end 3"));
  });
});
