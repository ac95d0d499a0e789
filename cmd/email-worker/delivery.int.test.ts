import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedisIdempotencyStore } from "../../internal/queue/redis/redis-idempotency-store.ts";
import { RedisStreamsQueue } from "../../internal/queue/redis/redis-streams-queue.ts";
import { EmailService } from "../../internal/service/email-service.ts";
import type { DatabaseRouter } from "../../internal/store/database-router.ts";
import { JobRepository } from "../../internal/store/job-repository.ts";
import { SuppressionRepository } from "../../internal/store/suppression-repository.ts";
import { TemplateRepository } from "../../internal/store/template-repository.ts";
import { TrackingRepository } from "../../internal/store/tracking-repository.ts";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { type RunningProcess, startProcess } from "../../test/process.ts";
import { queueSettings } from "../../test/queue-settings.ts";
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from "../../test/redis.ts";
import { type SinkProcess, startSinkProcess } from "../../test/smtp-sink-process.ts";
import { openMigratedRouter, silentLogger } from "../../test/store.ts";
import { until } from "../../test/until.ts";

const entry = fileURLToPath(new URL("./main.ts", import.meta.url));
const run = promisify(execFile);

/**
 * The service as operators run it: worker processes on real Redis and PostgreSQL, delivering to an
 * SMTP server in another process, while jobs are published the way the API publishes them.
 */
describe("email-worker processes delivering through Redis to SMTP", () => {
  let database: TestDatabase;
  let router: DatabaseRouter;
  let redis: Redis;
  let blocking: Redis;
  let sink: SinkProcess;
  let name: string;
  let service: EmailService;
  let jobs: JobRepository;
  let queue: RedisStreamsQueue;
  const workers: RunningProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url });
    redis = await connectRedis();
    blocking = await connectRedis();
    jobs = new JobRepository(router);
  });

  let current: { name: string; sink: SinkProcess } | undefined;
  async function freshRun(options: { dataDelayMs?: number } = {}) {
    name = uniquePrefix("e2e");
    sink = await startSinkProcess(options);
    queue = new RedisStreamsQueue({
      ...queueSettings().redis,
      redis,
      blockingRedis: blocking,
      name,
      visibilityTimeoutMs: 3_000,
      pollIntervalMs: 200,
    });
    await queue.init();
    service = new EmailService({
      queue,
      jobs,
      tracking: new TrackingRepository(router),
      idempotency: new RedisIdempotencyStore(redis, name),
      defaultMaxRetries: 3,
      suppressions: new SuppressionRepository(router),
      logger: silentLogger,
    });
    current = { name, sink };
  }

  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      worker.child.kill("SIGKILL");
      await worker.exit();
    }
    if (current) {
      const { sink: stale, name: prefix } = current;
      current = undefined;
      try {
        await stale.stop();
      } finally {
        await deleteKeys(redis, prefix);
      }
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    redis?.disconnect();
    blocking?.disconnect();
    await router?.destroy();
    await database?.drop();
  });

  function startWorker(extraEnv: Record<string, string> = {}): RunningProcess {
    const cwd = mkdtempSync(join(tmpdir(), "ew-e2e-"));
    dirs.push(cwd);
    const worker = startProcess(entry, {
      cwd,
      env: {
        PORT: "0",
        GRPC_PORT: "0",
        LOG_LEVEL: "warn",
        QUEUE_DRIVER: "redis",
        QUEUE_NAME: name,
        REDIS_URL: redisUrl(),
        QUEUE_POLL_INTERVAL: "200ms",
        QUEUE_VISIBILITY_TIMEOUT: "3s",
        DATABASE_URL: database.url,
        EMAIL_DEFAULT_PROVIDER: "smtp",
        SMTP_HOST: "127.0.0.1",
        SMTP_PORT: String(sink.smtpPort),
        SMTP_USE_TLS: "false",
        SMTP_FROM_EMAIL: "noreply@example.com",
        WORKER_COUNT: "10",
        WORKER_BATCH_SIZE: "10",
        WORKER_PROCESS_TIMEOUT: "2s",
        WORKER_RECONCILE_INTERVAL: "1s",
        WORKER_RECONCILE_GRACE: "4s",
        WORKER_SHUTDOWN_TIMEOUT: "10s",
        ...extraEnv,
      },
    });
    workers.push(worker);
    return worker;
  }

  async function publish(count: number, label: string): Promise<{ fast: string[]; tracked: string[] }> {
    const fast: string[] = [];
    const tracked: string[] = [];
    for (let i = 0; i < count; i++) {
      const isTracked = i % 2 === 0;
      const { job_id } = await service.send({
        type: isTracked ? "email_verification" : "welcome_email",
        recipient_email: `${label}-${i}@example.org`,
        subject: "Hello {{name}}",
        html: "<p>Hello {{name}}, your code is {{code}}</p>",
        template_data: { name: `user ${i}`, code: randomUUID().slice(0, 6) },
        tracked: isTracked,
        priority: ["low", "normal", "high", "critical"][i % 4],
      });
      (isTracked ? tracked : fast).push(job_id);
    }
    return { fast, tracked };
  }

  async function allDelivered(ids: readonly string[]): Promise<boolean> {
    const { per_job } = await sink.stats();
    return ids.every((id) => (per_job[id] ?? 0) >= 1);
  }

  async function trackedRows(ids: readonly string[]) {
    return router.master
      .selectFrom("email_jobs")
      .select(["id", "status"])
      .where("id", "in", [...ids])
      .execute();
  }

  it("delivers 1,000 mixed fast and tracked jobs, each exactly once", { timeout: 120_000 }, async () => {
    await freshRun();
    startWorker();
    const { fast, tracked } = await publish(1_000, "mixed");
    await until(() => allDelivered([...fast, ...tracked]), 60_000, "1,000 deliveries");
    await sleep(500);
    const stats = await sink.stats();
    expect(stats.total).toBe(1_000);
    expect(Object.values(stats.per_job).every((n) => n === 1)).toBe(true);
    const rows = await router.master
      .selectFrom("email_jobs")
      .innerJoin("email_tracking", "email_tracking.job_id", "email_jobs.id")
      .select(["email_jobs.status", "email_tracking.message_id", "email_tracking.provider"])
      .where("email_jobs.id", "in", tracked)
      .execute();
    expect(rows).toHaveLength(500);
    expect(
      rows.every((r) => r.status === "sent" && r.provider === "smtp" && r.message_id?.startsWith("<")),
    ).toBe(true);
  });

  it("delivers a job published with the README's redis-cli XADD line", async () => {
    await freshRun();
    await new TemplateRepository(router).upsert({
      id: "welcome_template",
      name: "Welcome",
      subject: "Welcome, {{.user_name}}!",
      html_template: "<h1>Hello {{.user_name}}</h1>",
      variables: ["user_name"],
    });
    startWorker();
    const job = JSON.stringify({
      type: "welcome_email",
      recipient_email: "ada@example.org",
      template_id: "welcome_template",
      template_data: { user_name: "Ada" },
    });
    const { stdout } = await run("redis-cli", ["-u", redisUrl(), "XADD", `${name}:normal`, "*", "job", job]);
    expect(stdout.trim()).toMatch(/^\d+-\d+$/);
    await until(async () => (await sink.stats()).total === 1, 30_000, "the XADD job");
  });

  it("loses nothing when a worker is killed with SIGKILL mid-run; duplicates stay within what was in flight", {
    timeout: 120_000,
  }, async () => {
    await freshRun({ dataDelayMs: 5 });
    const first = startWorker();
    const { fast, tracked } = await publish(600, "crash");
    await until(async () => (await sink.stats()).total >= 100, 30_000, "the first worker to get going");
    first.child.kill("SIGKILL");
    await first.exit();
    const atKill = (await sink.stats()).total;
    expect(atKill).toBeLessThan(600);

    startWorker();
    await until(() => allDelivered([...fast, ...tracked]), 60_000, "every job after the crash");
    await sleep(1_000);
    const { per_job } = await sink.stats();
    const extra = (ids: string[]) => ids.reduce((sum, id) => sum + Math.max((per_job[id] ?? 0) - 1, 0), 0);
    const fastDuplicates = extra(fast);
    const trackedDuplicates = extra(tracked);
    // A redelivered message never resends a tracked job (its claim stops it). What no protocol can
    // prevent is a kill after the SMTP server accepted a message and before its row was marked sent:
    // those sends, like fast-path ones, go out again. Together they cannot exceed what the killed
    // worker had sending (WORKER_COUNT = 10) plus what it had sent and was still recording outside
    // its slots (as many again at most).
    expect(fastDuplicates + trackedDuplicates).toBeLessThanOrEqual(20);
    console.info(
      `crash test: ${atKill} sent before SIGKILL; duplicates afterwards: ${fastDuplicates} fast, ${trackedDuplicates} tracked`,
    );
    const rows = await trackedRows(tracked);
    expect(rows.every((r) => r.status === "sent")).toBe(true);
  });

  it("holds a provider's rate across two worker processes sharing Redis", { timeout: 120_000 }, async () => {
    await freshRun();
    const rate = 10;
    // Waiting for the limiter counts against the job's time, so give jobs room to wait.
    const env = {
      SMTP_RATE_LIMIT: String(rate),
      WORKER_PROCESS_TIMEOUT: "10s",
      QUEUE_VISIBILITY_TIMEOUT: "20s",
    };
    startWorker(env);
    startWorker(env);
    const { fast, tracked } = await publish(60, "rated");
    await until(() => allDelivered([...fast, ...tracked]), 60_000, "60 rate-limited deliveries");
    const { received_at } = await sink.stats();
    const times = [...fast, ...tracked].map((id) => received_at[id] ?? 0).sort((a, b) => a - b);
    const span = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000;
    // Two unshared limits would allow 20/s (about 2.5 s for 60); one shared limit takes 5 s or more.
    expect(span).toBeGreaterThanOrEqual(60 / rate - 1.5);
    // The limit counts fixed one-second windows, so a sliding second can straddle two of them.
    let busiest = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[i] ?? 0) - (times[j] ?? 0) >= 1_000) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    expect(busiest).toBeLessThanOrEqual(2 * rate);
    const { per_job } = await sink.stats();
    expect(Object.values(per_job).every((count) => count === 1)).toBe(true);
    console.info(`rate test: 60 emails over ${span.toFixed(1)} s, busiest second ${busiest}`);
  });

  it("drains on SIGTERM: in-flight sends finish, nothing stays claimed, exit code 0", {
    timeout: 120_000,
  }, async () => {
    await freshRun({ dataDelayMs: 40 });
    const worker = startWorker();
    const { fast, tracked } = await publish(300, "drain");
    await until(async () => (await sink.stats()).total >= 30, 30_000, "sending to start");
    worker.child.kill("SIGTERM");
    expect(await worker.exit()).toEqual({ code: 0, signal: null });

    const processing = (await trackedRows(tracked)).filter((r) => r.status === "processing");
    expect(processing).toEqual([]);
    const pending = await Promise.all(
      ["critical", "high", "normal", "low"].map(
        async (lane) => (await redis.xpending(`${name}:${lane}`, "email-workers"))[0],
      ),
    );
    expect(pending.map(Number)).toEqual([0, 0, 0, 0]);

    startWorker();
    await until(() => allDelivered([...fast, ...tracked]), 60_000, "the rest after a restart");
    await sleep(500);
    const { per_job } = await sink.stats();
    expect(Object.values(per_job).every((n) => n === 1)).toBe(true);
  });
});
