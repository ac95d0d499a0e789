import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../postgres.ts";
import { type RedisServer, startRedisServer } from "../redis-server.ts";
import { type ServiceProcess, smtpSinkEnv, startServiceProcess } from "../service-process.ts";
import { receiptsByJob, type SmtpSink, startSmtpSink } from "../smtp-sink.ts";
import { until } from "../until.ts";

const WORKERS = 4;

interface Run {
  redis: RedisServer;
  sink: SmtpSink;
  database: TestDatabase;
  service: ServiceProcess;
  base: string;
}

/**
 * Redis killed mid-run and started again, as a node crash or an OOM kill does: without persistence
 * it comes back empty (the queue's group and streams gone), with AOF it comes back whole. Delivery
 * must resume on its own either way, every tracked job must be sent exactly once, and what the
 * service cannot recover must be what it says it lost.
 */
describe("email-worker through a Redis restart", () => {
  let run: Run | undefined;
  afterEach(async () => {
    if (!run) return;
    await run.service.stop();
    await run.sink.close();
    await run.redis.stop();
    await run.database.drop();
    run = undefined;
  });

  async function start(appendonly: boolean): Promise<Run> {
    const redis = await startRedisServer({ appendonly });
    // Slow enough that a backlog waits in Redis when it dies.
    const sink = await startSmtpSink({ dataDelayMs: 30 });
    const database = await createTestDatabase("ew_faults");
    const service = await startServiceProcess({
      QUEUE_DRIVER: "redis",
      REDIS_URL: redis.url,
      QUEUE_POLL_INTERVAL: "200ms",
      QUEUE_VISIBILITY_TIMEOUT: "5s",
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

  const receipts = receiptsByJob;

  it("comes back empty without persistence: delivery resumes, lost tracked jobs are sent once, the loss is reported", {
    timeout: 120_000,
  }, async () => {
    const { redis, sink, service, base } = await start(false);
    const trackedBefore = await send(base, 40, true, "tracked-before");
    const fastBefore = await send(base, 40, false, "fast-before");
    await until(async () => sink.messages.length >= 10, 20_000, "delivery to get going");

    await redis.kill();
    await sleep(500);
    await redis.start();
    const fastAfter = await send(base, 20, false, "fast-after");
    const trackedAfter = await send(base, 20, true, "tracked-after");

    const everyTracked = [...trackedBefore, ...trackedAfter];
    await until(
      async () => {
        const counts = receipts(sink);
        return [...everyTracked, ...fastAfter].every((id) => (counts.get(id) ?? 0) > 0);
      },
      60_000,
      "every tracked job and every job sent after the restart to arrive",
    );
    const counts = receipts(sink);
    const fastLost = fastBefore.filter((id) => !counts.has(id)).length;
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    console.info(
      `Redis restart without persistence: ${fastLost} of ${fastBefore.length} fast-path jobs waiting in Redis lost, ${duplicates} duplicates`,
    );
    for (const id of everyTracked) expect(counts.get(id), `tracked job ${id}`).toBe(1);
    // Only the jobs in flight when Redis died can go out twice (their acknowledgement was lost): those
    // in the worker's slots and those sent and still being acknowledged outside them.
    expect(duplicates).toBeLessThanOrEqual(2 * WORKERS);
    expect(service.output()).toContain("Redis lost the queue's data");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^email_queue_recreated_total\{data_lost="true"\} [1-9]/m);
    expect(metrics).toMatch(/^email_queue_consumer_up 1$/m);
    const health = (await (await fetch(`${base}/health`)).json()) as { status: string; consumer: string };
    expect(health).toMatchObject({ status: "healthy", consumer: "ok" });
  });

  it("comes back whole with AOF: nothing is lost, and only jobs in flight at the crash can be sent twice", {
    timeout: 120_000,
  }, async () => {
    const { redis, sink, service, base } = await start(true);
    const before = [
      ...(await send(base, 40, true, "tracked-before")),
      ...(await send(base, 40, false, "fast-before")),
    ];
    await until(async () => sink.messages.length >= 10, 20_000, "delivery to get going");

    await redis.kill();
    await sleep(500);
    await redis.start();
    const after = [
      ...(await send(base, 20, false, "fast-after")),
      ...(await send(base, 20, true, "tracked-after")),
    ];

    await until(
      async () => {
        const counts = receipts(sink);
        return [...before, ...after].every((id) => (counts.get(id) ?? 0) > 0);
      },
      60_000,
      "every job to arrive",
    );
    const counts = receipts(sink);
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    console.info(`Redis restart with AOF: 0 lost, ${duplicates} duplicates`);
    expect(duplicates).toBeLessThanOrEqual(2 * WORKERS);
    expect(service.output()).not.toContain("Redis lost the queue's data");
  });
});
