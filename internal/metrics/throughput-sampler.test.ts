import { pino } from "pino";
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { FAILED_STATUSES, ThroughputSampler } from "./throughput-sampler.ts";

const silent = pino({ level: "silent" });

/** The history in memory: each add summed into its minute, or refused while `down`. */
class FakeHistory {
  readonly minutes = new Map<number, { sent: number; failed: number }>();
  readonly adds: { minute: Date; sent: number; failed: number }[] = [];
  deletedBefore: Date[] = [];
  down = false;

  async add(minute: Date, counts: { sent: number; failed: number }): Promise<void> {
    if (this.down) throw new Error("database unavailable");
    this.adds.push({ minute, ...counts });
    const row = this.minutes.get(minute.getTime()) ?? { sent: 0, failed: 0 };
    this.minutes.set(minute.getTime(), { sent: row.sent + counts.sent, failed: row.failed + counts.failed });
  }

  async deleteBefore(before: Date): Promise<number> {
    this.deletedBefore.push(before);
    return 0;
  }

  total(): { sent: number; failed: number } {
    let sent = 0;
    let failed = 0;
    for (const row of this.minutes.values()) {
      sent += row.sent;
      failed += row.failed;
    }
    return { sent, failed };
  }
}

function setUp(start = Date.parse("2030-01-01T10:00:15Z")) {
  const counter = new Counter({
    name: "email_jobs_processed_total",
    help: "test",
    labelNames: ["status", "job_type", "provider"] as const,
    registers: [new Registry()],
  });
  const history = new FakeHistory();
  const clock = { now: start };
  const sampler = new ThroughputSampler({
    counter,
    repository: history,
    now: () => clock.now,
    logger: silent,
  });
  const finish = (status: string, count = 1, job_type = "welcome", provider = "smtp") =>
    counter.inc({ status, job_type, provider }, count);
  return { counter, history, clock, sampler, finish };
}

describe("throughput sampler", () => {
  it("adds what finished since the last sample to the current minute, the first sample counting from zero", async () => {
    const { history, clock, sampler, finish } = setUp();
    finish("sent", 3);
    finish("sent", 2, "receipt", "ses");
    finish("failed");
    await sampler.sample();
    expect(history.adds).toEqual([{ minute: new Date("2030-01-01T10:00:00Z"), sent: 5, failed: 1 }]);

    clock.now += 30_000;
    finish("sent", 4);
    await sampler.sample();
    expect(history.adds.at(-1)).toEqual({ minute: new Date("2030-01-01T10:00:00Z"), sent: 4, failed: 0 });
    expect(history.minutes.get(Date.parse("2030-01-01T10:00:00Z"))).toEqual({ sent: 9, failed: 1 });

    // Nothing new: nothing written.
    clock.now += 20_000;
    await sampler.sample();
    expect(history.adds).toHaveLength(2);
    finish("retrying", 2);
    await sampler.sample();
    expect(history.adds.at(-1)).toEqual({ minute: new Date("2030-01-01T10:01:00Z"), sent: 0, failed: 2 });
  });

  it("counts retried, failed and dead-lettered deliveries as failures, and no other status", async () => {
    const { history, sampler, finish } = setUp();
    expect([...FAILED_STATUSES].sort()).toEqual(["dead_lettered", "failed", "retrying"]);
    finish("sent");
    finish("retrying", 2);
    finish("failed", 3);
    finish("dead_lettered", 4, "unknown", "none");
    for (const status of ["skipped", "deferred", "suppressed", "sandboxed", "parked", "cancelled"])
      finish(status, 10);
    await sampler.sample();
    expect(history.total()).toEqual({ sent: 1, failed: 9 });
  });

  it("keeps the counts while the database is away and adds them once it is back, never twice", async () => {
    const { history, clock, sampler, finish } = setUp();
    finish("sent", 2);
    await sampler.sample();

    history.down = true;
    finish("sent", 3);
    finish("failed", 1);
    clock.now += 10_000;
    await expect(sampler.sample()).resolves.toBeUndefined();
    finish("sent", 1);
    clock.now += 60_000;
    await sampler.sample();
    expect(history.total()).toEqual({ sent: 2, failed: 0 });

    history.down = false;
    finish("retrying", 1);
    clock.now += 10_000;
    await sampler.sample();
    // Everything missed, in the minute it was written.
    expect(history.adds.at(-1)).toEqual({ minute: new Date("2030-01-01T10:01:00Z"), sent: 4, failed: 2 });
    await sampler.sample();
    await sampler.flush();
    expect(history.total()).toEqual({ sent: 6, failed: 2 });
  });

  it("never adds the same counts twice when samples overlap (a tick and the shutdown flush)", async () => {
    const { history, sampler, finish } = setUp();
    finish("sent", 5);
    await Promise.all([sampler.sample(), sampler.flush(), sampler.sample()]);
    expect(history.total()).toEqual({ sent: 5, failed: 0 });
    expect(history.adds).toHaveLength(1);
  });

  it("counts from zero again after the counter was reset, never a negative count", async () => {
    const { counter, history, sampler, finish } = setUp();
    finish("sent", 5);
    await sampler.sample();
    counter.reset();
    finish("sent", 2);
    await sampler.sample();
    expect(history.adds.map((a) => a.sent)).toEqual([5, 2]);
  });

  it("prunes the history older than a day", async () => {
    const { history, sampler } = setUp(Date.parse("2030-01-02T12:00:00Z"));
    await sampler.prune();
    await sampler.prune(new Date("2030-02-01T00:00:00Z"));
    expect(history.deletedBefore).toEqual([
      new Date("2030-01-01T12:00:00Z"),
      new Date("2030-01-31T00:00:00Z"),
    ]);
  });
});
