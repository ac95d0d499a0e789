import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { Lane } from "../job/priority.ts";
import { DeadLetterPositionError, type Delivery, type JobQueue, positionOf } from "./queue.ts";

interface QueueTimings {
  visibilityTimeoutMs: number;
  pollIntervalMs: number;
  /** A message handed out this many times without being finished is dead-lettered (max_deliveries). */
  maxDeliveries: number;
}

interface QueueHarness {
  /** A consumer on a fresh, empty queue. */
  queue: JobQueue;
  /** Another consumer on the same queue (another replica). */
  anotherConsumer(): Promise<JobQueue>;
  /**
   * Ends a consumer the way a crash ends it once noticed, leaving what it holds unfinished. Drivers
   * without it hand such messages on after the visibility timeout; Kafka hands a partition on when
   * its consumer leaves the group (or its session times out), not per message.
   */
  abandon?(queue: JobQueue): Promise<void>;
  cleanup(): Promise<void>;
}

const body = (n: number | string) => JSON.stringify({ n });
const numberOf = (d: Delivery) => (JSON.parse(d.body) as { n: number | string }).n;

/** Fetches until `count` deliveries arrived or `timeoutMs` passed, promoting delayed ones meanwhile. */
async function drain(queue: JobQueue, count: number, timeoutMs = 5_000, batch = 10): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count && Date.now() < deadline) {
    await queue.promoteDue();
    got.push(...(await queue.fetch(Math.min(batch, count - got.length))));
  }
  return got;
}

/** The queue contract: every driver passes the same suite. */
export function queueContract(name: string, open: (timings: QueueTimings) => Promise<QueueHarness>): void {
  describe(`queue contract: ${name}`, () => {
    const harnesses: QueueHarness[] = [];
    const start = async (timings: Partial<QueueTimings> = {}) => {
      const harness = await open({
        visibilityTimeoutMs: 30_000,
        pollIntervalMs: 100,
        maxDeliveries: 10,
        ...timings,
      });
      harnesses.push(harness);
      return harness;
    };
    afterEach(async () => {
      for (const harness of harnesses.splice(0)) await harness.cleanup();
    });

    it("delivers what was published and forgets it once acknowledged", async () => {
      const { queue } = await start();
      await queue.publish([1, 2, 3].map((n) => ({ body: body(n), lane: "normal" as Lane })));
      const got = await drain(queue, 3);
      expect(got.map(numberOf).sort()).toEqual([1, 2, 3]);
      expect(got.every((d) => d.attempt === 0 && !d.redelivered && d.lane === "normal")).toBe(true);
      expect((await queue.stats()).in_flight).toBe(3);
      await Promise.all(got.map((d) => queue.ack(d)));
      expect(await queue.fetch(10)).toEqual([]);
      expect(await queue.stats()).toEqual({
        lanes: { critical: 0, high: 0, normal: 0, low: 0 },
        in_flight: 0,
        delayed: 0,
        dead: 0,
      });
    });

    it("hands out the most urgent lane first", async () => {
      const { queue } = await start();
      for (const lane of ["low", "normal", "high", "critical"] as const) {
        await queue.publish([{ body: body(lane), lane }]);
      }
      expect((await queue.stats()).lanes).toEqual({ critical: 1, high: 1, normal: 1, low: 1 });
      // A fetch may come back empty before the first messages arrive (Kafka pushes them): the
      // first delivery, whenever it comes, is the critical one.
      const got = await drain(queue, 1, 5_000, 1);
      expect(got.map(numberOf)).toEqual(["critical"]);
      const rest = await drain(queue, 3, 5_000, 3);
      expect(rest.map((d) => d.lane)).toEqual(["high", "normal", "low"]);
    });

    it("still moves the low lane while critical work never stops", async () => {
      const { queue } = await start();
      await queue.publish(
        Array.from({ length: 200 }, (_, n) => ({ body: body(n), lane: "critical" as Lane })),
      );
      await queue.publish(
        Array.from({ length: 20 }, (_, n) => ({ body: body(`low-${n}`), lane: "low" as Lane })),
      );
      const got = await drain(queue, 100);
      const low = got.filter((d) => d.lane === "low").length;
      expect(low).toBeGreaterThanOrEqual(2);
      expect(low).toBeLessThan(20);
    });

    it("holds a delayed message back and hands it out within a second of its time", async () => {
      const { queue } = await start();
      const due = new Date(Date.now() + 600);
      await queue.publish([{ body: body("later"), lane: "high", run_at: due }]);
      expect((await queue.stats()).delayed).toBe(1);
      expect(await queue.fetch(10)).toEqual([]);
      const [delivery] = await drain(queue, 1, 5_000);
      const lateness = Date.now() - due.getTime();
      expect(delivery && numberOf(delivery)).toBe("later");
      expect(lateness).toBeGreaterThanOrEqual(0);
      expect(lateness).toBeLessThan(1_000);
    });

    it("hands a message its consumer never finished to another consumer once that one is gone", async () => {
      const harness = await start({ visibilityTimeoutMs: 400 });
      await harness.queue.publish([{ body: body("orphan"), lane: "normal" }]);
      const [first] = await drain(harness.queue, 1);
      expect(first).toBeDefined();
      let other: JobQueue;
      if (harness.abandon) {
        await harness.abandon(harness.queue);
        other = await harness.anotherConsumer();
      } else {
        other = await harness.anotherConsumer();
        expect(await other.fetch(10)).toEqual([]);
        await sleep(500);
      }
      const [again] = await drain(other, 1, 3_000);
      expect(again && numberOf(again)).toBe("orphan");
      expect(again?.redelivered).toBe(true);
      if (again) await other.ack(again);
    });

    it("dead-letters a message handed out max_deliveries times without being finished", {
      timeout: 90_000,
    }, async () => {
      const harness = await start({ visibilityTimeoutMs: 400, maxDeliveries: 3 });
      await harness.queue.publish([{ body: body("poison"), lane: "normal", attempt: 1 }]);
      let consumer = harness.queue;
      for (let delivery = 1; delivery <= 3; delivery++) {
        const [got] = await drain(consumer, 1, 5_000);
        expect(got && numberOf(got)).toBe("poison");
        expect(got?.redelivered).toBe(delivery > 1);
        // Its consumer crashes or hangs: the message is never finished.
        if (harness.abandon) {
          await harness.abandon(consumer);
          consumer = await harness.anotherConsumer();
        } else {
          await sleep(500);
        }
      }
      expect(await drain(consumer, 1, 2_000)).toEqual([]);
      const letters = await consumer.listDeadLetters(10);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        lane: "normal",
        body: body("poison"),
        reason: "delivered 3 times without finishing",
        attempt: 1,
      });
      expect((await consumer.stats()).dead).toBe(1);
      expect(await drain(consumer, 1, 1_000)).toEqual([]);
    });

    it("retries a message later with its attempt count and new body", async () => {
      const { queue } = await start();
      await queue.publish([{ body: body("try"), lane: "normal" }]);
      const [first] = await drain(queue, 1);
      if (!first) throw new Error("nothing delivered");
      await queue.retry(first, {
        body: body("try-2"),
        run_at: new Date(Date.now() + 300),
        attempt: 1,
        error: "421",
      });
      expect(await queue.fetch(10)).toEqual([]);
      const [second] = await drain(queue, 1);
      expect(second).toMatchObject({ attempt: 1, lane: "normal" });
      expect(second && numberOf(second)).toBe("try-2");
    });

    it("keeps dead letters with their reason, and replays one", async () => {
      const { queue } = await start();
      await queue.publish([{ body: body("bad"), lane: "high", attempt: 2 }]);
      const [delivery] = await drain(queue, 1);
      if (!delivery) throw new Error("nothing delivered");
      await queue.deadLetter(delivery, "550 mailbox unavailable");
      expect((await queue.stats()).dead).toBe(1);
      const [letter] = await queue.listDeadLetters(10);
      expect(letter).toMatchObject({
        lane: "high",
        body: body("bad"),
        reason: "550 mailbox unavailable",
        attempt: 2,
      });
      expect(letter?.failed_at.getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect(await queue.fetch(10)).toEqual([]);
      expect(await queue.replayDeadLetter(letter?.id ?? "")).toBe(true);
      expect(await queue.replayDeadLetter(letter?.id ?? "")).toBe(false);
      const [replayed] = await drain(queue, 1);
      expect(replayed && numberOf(replayed)).toBe("bad");
      expect((await queue.stats()).dead).toBe(0);
    });

    it("pages through dead letters newest first, each once, while others arrive and one is replayed", async () => {
      const { queue } = await start();
      const bury = async (names: readonly string[]) => {
        await queue.publish(names.map((n) => ({ body: body(n), lane: "normal" as Lane })));
        const got = await drain(queue, names.length);
        expect(got).toHaveLength(names.length);
        for (const delivery of got) await queue.deadLetter(delivery, `failed ${numberOf(delivery)}`);
      };
      const first = ["d0", "d1", "d2", "d3", "d4", "d5", "d6"];
      await bury(first);
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await queue.listDeadLetters(3, after);
        expect(page.length).toBeLessThanOrEqual(3);
        seen.push(...page.map((l) => String(JSON.parse(l.body).n)));
        const last = page[page.length - 1];
        if (!last) break;
        after = positionOf(last);
        if (pages++ === 0) {
          // Newer than every page: they come before the first one and move none of the others.
          await bury(["late0", "late1"]);
          // The letter a page ended on may go meanwhile; the next page still knows where it was.
          expect(await queue.replayDeadLetter(last.id)).toBe(true);
        }
      }
      expect(seen.toSorted()).toEqual(first);
      expect(pages).toBe(3);
      expect((await queue.stats()).dead).toBe(first.length + 2 - 1);
      const newest = await queue.listDeadLetters(2);
      expect(newest.map((l) => String(JSON.parse(l.body).n)).toSorted()).toEqual(["late0", "late1"]);
    });

    it("refuses a dead-letter position it never gave", async () => {
      const { queue } = await start();
      await expect(queue.listDeadLetters(10, "not a position")).rejects.toBeInstanceOf(
        DeadLetterPositionError,
      );
    });

    it("never hands one message to two consumers at once", async () => {
      const harness = await start();
      const other = await harness.anotherConsumer();
      const total = 300;
      await harness.queue.publish(
        Array.from({ length: total }, (_, n) => ({ body: body(n), lane: "normal" as Lane })),
      );
      const seen: number[] = [];
      const consume = async (queue: JobQueue) => {
        let empty = 0;
        while (empty < 3) {
          const got = await queue.fetch(7);
          if (got.length === 0) empty++;
          seen.push(...got.map((d) => numberOf(d) as number));
          await Promise.all(got.map((d) => queue.ack(d)));
        }
      };
      await Promise.all([consume(harness.queue), consume(other), consume(harness.queue)]);
      expect(seen).toHaveLength(total);
      expect(new Set(seen).size).toBe(total);
    });

    it("returns at once from an idle fetch when asked to stop", async () => {
      const { queue } = await start({ pollIntervalMs: 5_000 });
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 50);
      expect(await queue.fetch(10, controller.signal)).toEqual([]);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });
}
