import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Delivery, JobQueue } from "../queue/queue.ts";
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
