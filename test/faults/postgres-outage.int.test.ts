import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresServer, startPostgresServer } from "../postgres-server.ts";
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from "../redis.ts";
import { type ServiceProcess, smtpSinkEnv, startServiceProcess } from "../service-process.ts";
import { receiptsByJob, type SmtpSink, startSmtpSink } from "../smtp-sink.ts";
import { until } from "../until.ts";

/**
 * The PostgreSQL master stops (a restart, a crash, a failover in progress) while jobs flow on the
 * Redis queue: fast-path email keeps going out, tracked intake says to come back later instead of
 * failing or half-writing, and once the master is back everything resumes without a restart,
 * every tracked job sent exactly once.
 */
describe("email-worker through a PostgreSQL master outage", () => {
  let postgres: PostgresServer;
  let sink: SmtpSink;
  let redis: Redis;
  let service: ServiceProcess;
  let base = "";
  const queueName = uniquePrefix("pg-outage");

  beforeAll(async () => {
    postgres = await startPostgresServer();
    sink = await startSmtpSink({ dataDelayMs: 20 });
    redis = await connectRedis();
    service = await startServiceProcess({
      QUEUE_DRIVER: "redis",
      REDIS_URL: redisUrl(),
      QUEUE_NAME: queueName,
      QUEUE_POLL_INTERVAL: "200ms",
      // Long enough that marks retried through the outage land before a claim runs out.
      QUEUE_VISIBILITY_TIMEOUT: "40s",
      WORKER_PROCESS_TIMEOUT: "5s",
      WORKER_RECONCILE_INTERVAL: "1s",
      WORKER_RECONCILE_GRACE: "3s",
      DATABASE_URL: postgres.url,
      DB_CONNECT_TIMEOUT: "1s",
      DB_QUERY_TIMEOUT: "2s",
      ...smtpSinkEnv(sink.port),
    });
    base = service.base;
  });

  afterAll(async () => {
    await service?.stop();
    await sink?.close();
    await deleteKeys(redis, queueName);
    redis?.disconnect();
    await postgres?.destroy();
  });

  const post = (jobs: unknown[]) =>
    fetch(`${base}/v1/emails`, { method: "POST", body: JSON.stringify({ jobs }) }).then(async (response) => ({
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      body: (await response.json()) as { results: { job_id?: string; error?: { code?: string } }[] },
    }));
  const jobs = (count: number, tracked: boolean, label: string) =>
    Array.from({ length: count }, (_, i) => ({
      id: randomUUID(),
      type: "outage",
      recipient_email: `${label}-${i}@example.org`,
      subject: label,
      text: "hello",
      tracked,
    }));
  const receipts = () => receiptsByJob(sink);

  it("keeps sending fast-path email, refuses tracked intake with 503 and a retry hint, and resumes when the master returns", {
    timeout: 120_000,
  }, async () => {
    const trackedBefore = jobs(30, true, "tracked-before");
    expect((await post(trackedBefore)).status).toBe(207);
    await until(async () => sink.messages.length >= 5, 20_000, "delivery to get going");

    await postgres.stop();
    const outageStarted = Date.now();
    const fastDuring = jobs(20, false, "fast-during");
    const fastAnswer = await post(fastDuring);
    const trackedDuring = await post(jobs(1, true, "tracked-during"));
    await until(
      async () => fastDuring.every((job) => receipts().has(job.id)),
      20_000,
      "fast-path jobs to be sent while the master is down",
    );
    // Probes share a check made at most once a second: the outage shows within about that.
    await until(async () => (await fetch(`${base}/readyz`)).status === 503, 5_000, "/readyz to turn 503");
    const healthDuring = (await (await fetch(`${base}/health`)).json()) as { database: string };
    await sleep(Math.max(0, 10_000 - (Date.now() - outageStarted)));
    await postgres.start();

    const trackedAfter = jobs(10, true, "tracked-after");
    await until(
      async () => (await post(trackedAfter)).status === 207,
      30_000,
      "tracked intake to work again",
    );
    await until(
      async () => [...trackedBefore, ...trackedAfter].every((job) => receipts().has(job.id)),
      60_000,
      "every tracked job to be sent",
    );

    expect(fastAnswer.status).toBe(207);
    expect(fastAnswer.body.results.every((r) => r.job_id)).toBe(true);
    // The batch stopped at its first tracked job: 503 with what happened to each item before it
    // (none here), and when to try again.
    expect(trackedDuring.status).toBe(503);
    expect(trackedDuring.retryAfter).toBe("5");
    expect(trackedDuring.body.results).toEqual([]);
    expect(healthDuring.database).toBe("disconnected");
    const counts = receipts();
    for (const job of [...trackedBefore, ...trackedAfter]) expect(counts.get(job.id), job.id).toBe(1);
  });
});
