import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../postgres.ts";
import { type RedisSentinelSetup, SENTINEL_MASTER, startRedisSentinel } from "../redis-sentinel.ts";
import { type ServiceProcess, smtpSinkEnv, startServiceProcess } from "../service-process.ts";
import { receiptsByJob, type SmtpSink, startSmtpSink } from "../smtp-sink.ts";
import { until } from "../until.ts";

const WORKERS = 4;
/** QUEUE_BATCH_SIZE: entries the service reads ahead and holds beyond what its workers send. */
const READ_BATCH = 10;

interface Run {
  redis: RedisSentinelSetup;
  sink: SmtpSink;
  database: TestDatabase;
  service: ServiceProcess;
  base: string;
}

/** Polls /health until stopped, keeping each change of its `queue` answer. */
function watchHealth(base: string): { stop(): Promise<string[]> } {
  const seen: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const health = (await (await fetch(`${base}/health`)).json()) as { queue: string };
        if (seen.at(-1) !== health.queue) seen.push(health.queue);
      } catch {
        // The service answers /health throughout; a failed poll only means none this round.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** The longest pause between two consecutive receipts at the sink after `from`, and when it ended. */
function longestPause(receivedAt: number[], from: number): { pauseMs: number; endedAt: number } {
  const times = receivedAt.filter((t) => t >= from).sort((a, b) => a - b);
  let pauseMs = (times[0] ?? from) - from;
  let endedAt = times[0] ?? from;
  for (let i = 1; i < times.length; i++) {
    const gap = (times[i] as number) - (times[i - 1] as number);
    if (gap > pauseMs) [pauseMs, endedAt] = [gap, times[i] as number];
  }
  return { pauseMs, endedAt };
}

/**
 * The master of a Sentinel-managed Redis killed mid-run (SIGKILL, as a node crash), so the Sentinels
 * promote its replica while the service delivers a backlog. Delivery must resume on the new master
 * by itself, every tracked job must be sent exactly once, and the fast path may lose or repeat only
 * what the failover caught between the two nodes.
 */
describe("email-worker through a Redis Sentinel failover", () => {
  let run: Run | undefined;
  afterEach(async () => {
    if (!run) return;
    await run.service.stop();
    await run.sink.close();
    await run.redis.stop();
    await run.database.drop();
    run = undefined;
  });

  async function start(): Promise<Run> {
    const redis = await startRedisSentinel();
    // Slow enough that a backlog is still waiting in Redis when its master dies.
    const sink = await startSmtpSink({ dataDelayMs: 40 });
    const database = await createTestDatabase("ew_faults");
    const service = await startServiceProcess({
      QUEUE_DRIVER: "redis",
      REDIS_SENTINELS: redis.sentinels.join(","),
      REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
      QUEUE_POLL_INTERVAL: "200ms",
      QUEUE_VISIBILITY_TIMEOUT: "5s",
      QUEUE_BATCH_SIZE: String(READ_BATCH),
      WORKER_PROCESS_TIMEOUT: "4s",
      WORKER_COUNT: String(WORKERS),
      WORKER_RECONCILE_INTERVAL: "1s",
      WORKER_RECONCILE_GRACE: "2s",
      DATABASE_URL: database.url,
      ...smtpSinkEnv(sink.port),
    }).catch(async (error: unknown) => {
      await Promise.all([sink.close(), redis.stop(), database.drop()]);
      throw error;
    });
    run = { redis, sink, database, service, base: service.base };
    return run;
  }

  async function send(base: string, count: number, tracked: boolean, label: string): Promise<string[]> {
    const jobs = Array.from({ length: count }, (_, i) => ({
      id: randomUUID(),
      type: "fault",
      recipient_email: `${label}-${i}@example.org`,
      subject: label,
      text: "hello",
      tracked,
    }));
    const answer = await fetch(`${base}/v1/emails`, { method: "POST", body: JSON.stringify({ jobs }) });
    expect(answer.status).toBe(207);
    return jobs.map((job) => job.id);
  }

  /**
   * Delivers a backlog through `disrupt` and checks what came out of it; `label` names the run in
   * the figures it prints.
   */
  async function throughFailover(
    label: string,
    disrupt: (redis: RedisSentinelSetup) => Promise<unknown>,
    /** The master was gone for seconds: /health must have said so, and then recovered. */
    outage: boolean,
  ) {
    const { redis, sink, service, base } = await start();
    const oldMaster = await redis.masterPort();
    const trackedBefore = await send(base, 200, true, "tracked-before");
    const fastBefore = await send(base, 200, false, "fast-before");
    await until(async () => sink.messages.length >= 20, 20_000, "delivery to get going");

    const disruptedAt = Date.now();
    const deliveredBefore = sink.messages.length;
    const health = watchHealth(base);
    await disrupt(redis);
    await until(
      async () => (await redis.masterPort().catch(() => oldMaster)) !== oldMaster,
      30_000,
      "the Sentinels to promote the replica",
    );
    const promotedAt = Date.now();
    await until(
      async () => service.output().includes("Redis master changed"),
      30_000,
      "the service to report the new master",
    );
    const fastAfter = await send(base, 20, false, "fast-after");
    const trackedAfter = await send(base, 20, true, "tracked-after");

    const everyTracked = [...trackedBefore, ...trackedAfter];
    await until(
      async () => {
        const counts = receiptsByJob(sink);
        return [...everyTracked, ...fastAfter].every((id) => (counts.get(id) ?? 0) > 0);
      },
      90_000,
      "every tracked job and every job sent after the failover to arrive",
    );
    // Anything reclaimed after the visibility timeout arrives within it: wait it out before counting.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const healthSeen = await health.stop();
    const counts = receiptsByJob(sink);
    const fastLost = fastBefore.filter((id) => !counts.has(id)).length;
    const fastDuplicates = [...fastBefore, ...fastAfter].filter((id) => (counts.get(id) ?? 0) > 1).length;
    const { pauseMs, endedAt } = longestPause(
      sink.messages.map((m) => m.received_at),
      disruptedAt,
    );
    console.info(
      `Redis Sentinel ${label}: replica promoted ${promotedAt - disruptedAt} ms after the disruption; ` +
        `longest delivery pause ${pauseMs} ms, ending ${endedAt - disruptedAt} ms after the disruption ` +
        `(${deliveredBefore} delivered before it); fast path: ${fastLost} of ${fastBefore.length} lost, ` +
        `${fastDuplicates} duplicates; tracked: ${everyTracked.length} sent exactly once; ` +
        `/health queue answers meanwhile: ${JSON.stringify(healthSeen)}`,
    );

    for (const id of everyTracked) expect(counts.get(id), `tracked job ${id}`).toBe(1);
    for (const id of fastAfter) expect(counts.get(id), `fast job ${id} sent after the failover`).toBe(1);
    // What the failover can catch between the nodes: the jobs being sent and those read ahead (their
    // acknowledgements went to the dead master, or were not yet copied to the replica), and the
    // last writes the replica had not yet received when its master died.
    const inFlight = WORKERS + READ_BATCH;
    expect(fastDuplicates).toBeLessThanOrEqual(inFlight);
    expect(fastLost).toBeLessThanOrEqual(inFlight);
    expect(service.output()).not.toContain("Redis lost the queue's data");
    const after = (await (await fetch(`${base}/health`)).json()) as { status: string; consumer: string };
    expect(after).toMatchObject({ status: "healthy", consumer: "ok" });
    expect(healthSeen.at(-1)).toBe("connected");
    if (outage) expect(healthSeen.some((queue) => queue !== "connected")).toBe(true);
  }

  it(
    "follows the replica promoted after its master is killed: delivery resumes, tracked jobs are sent once, fast-path loss and duplicates stay within what was in flight",
    {
      timeout: 180_000,
    },
    () => throughFailover("failover after SIGKILL of the master", (redis) => redis.killMaster(), true),
  );

  it(
    "leaves a demoted master that answers READONLY for the promoted one: delivery resumes, tracked jobs are sent once",
    {
      timeout: 180_000,
    },
    () => throughFailover("planned failover (SENTINEL FAILOVER)", (redis) => redis.failover(), false),
  );
});
