import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { loopbackSmtpProvider, singleProviderRouter } from "../../test/providers.ts";
import { queueSettings } from "../../test/queue-settings.ts";
import { connectRedis, deleteKeys, uniquePrefix } from "../../test/redis.ts";
import { type SmtpSink, startSmtpSink } from "../../test/smtp-sink.ts";
import { openMigratedRouter, silentLogger } from "../../test/store.ts";
import { createTemplate } from "../../test/store-queries.ts";
import { encodeTrackedReference } from "../job/queue-message.ts";
import type { SmtpProvider } from "../provider/smtp/smtp-provider.ts";
import type { JobQueue } from "../queue/queue.ts";
import { RedisIdempotencyStore } from "../queue/redis/redis-idempotency-store.ts";
import { RedisStreamsQueue } from "../queue/redis/redis-streams-queue.ts";
import { EmailService } from "../service/email-service.ts";
import { CampaignOutcomeRepository } from "../store/campaign-outcome-repository.ts";
import type { DatabaseRouter } from "../store/database-router.ts";
import { JobRepository } from "../store/job-repository.ts";
import { SuppressionRepository } from "../store/suppression-repository.ts";
import { TemplateRepository } from "../store/template-repository.ts";
import { TrackingRepository } from "../store/tracking-repository.ts";
import { RenderPool } from "../template/render-pool.ts";
import { TemplateRenderer } from "../template/renderer.ts";
import { type JobOutcome, JobProcessor } from "./job-processor.ts";
import { RetryPolicy } from "./retry-policy.ts";
import { WorkerPool } from "./worker-pool.ts";

/** One worker, in process, on real Redis, PostgreSQL and an SMTP server. */
describe("processing jobs end to end (Redis, PostgreSQL, SMTP)", () => {
  let database: TestDatabase;
  let router: DatabaseRouter;
  let sink: SmtpSink;
  let redis: Redis;
  let blocking: Redis;
  let name: string;
  let queue: RedisStreamsQueue;
  let jobs: JobRepository;
  let service: EmailService;
  let pool: WorkerPool;
  const renderPool = new RenderPool({ threads: 1, timeoutMs: 5_000 });
  let smtp: SmtpProvider;
  const outcomes: JobOutcome[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url });
    sink = await startSmtpSink();
    redis = await connectRedis();
    blocking = await connectRedis();
    name = uniquePrefix("processor");
    queue = new RedisStreamsQueue({
      ...queueSettings().redis,
      redis,
      blockingRedis: blocking,
      name,
      visibilityTimeoutMs: 5_000,
      pollIntervalMs: 100,
    });
    await queue.init();
    jobs = new JobRepository(router);
    const tracking = new TrackingRepository(router);
    const templates = new TemplateRepository(router);
    await createTemplate(router, {
      id: "welcome_template",
      name: "Welcome",
      subject: "Welcome {{.user_name}}",
      html_template: "<p>Hello {{.user_name}}</p>",
      variables: ["user_name"],
    });
    const idempotency = new RedisIdempotencyStore(redis, name);
    smtp = loopbackSmtpProvider(sink.port, { poolSize: 4 });
    service = new EmailService({
      queue,
      jobs,
      tracking,
      idempotency,
      defaultMaxRetries: 3,
      suppressions: new SuppressionRepository(router),
      logger: silentLogger,
    });
    const processor = new JobProcessor({
      queue,
      queueName: name,
      jobs,
      tracking,
      idempotency,
      campaigns: new CampaignOutcomeRepository(router),
      campaignOutcomes: new CampaignOutcomeRepository(router),
      renderer: new TemplateRenderer({
        source: { get: (id) => templates.get(id) },
        pool: renderPool,
        maxTemplateBytes: 512 * 1024,
      }),
      router: singleProviderRouter(smtp),
      retryPolicy: new RetryPolicy({ baseDelayMs: 50, factor: 2, maxDelayMs: 200, jitter: 0 }),
      defaultMaxRetries: 3,
      suppressions: new SuppressionRepository(router),
      suppressionFailOpen: true,
      claimLeaseMs: 5_000,
      logger: silentLogger,
      onOutcome: (o) => outcomes.push(o),
    });
    pool = new WorkerPool({
      queue,
      handler: processor,
      concurrency: 8,
      batchSize: 8,
      jobTimeoutMs: 4_000,
      logger: silentLogger,
    });
    pool.start();
  });

  // Retries and scheduled jobs wait in the delayed set; the service's promoter moves them.
  let promoter: NodeJS.Timeout;
  beforeEach(() => {
    promoter = setInterval(() => void queue.promoteDue().catch(() => {}), 50);
    return () => clearInterval(promoter);
  });

  afterAll(async () => {
    await pool?.stop(5_000);
    await renderPool.stop();
    await queue?.close();
    await smtp?.close();
    await sink?.close();
    if (redis) await deleteKeys(redis, name);
    redis?.disconnect();
    blocking?.disconnect();
    await router?.destroy();
    await database?.drop();
  });

  const delivered = (to: string) => sink.messages.filter((m) => m.to.includes(to));
  async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await sleep(25);
    }
  }
  const job = (to: string, extra: Record<string, unknown> = {}) => ({
    type: "welcome_email",
    recipient_email: to,
    template_id: "welcome_template",
    template_data: { user_name: "Ada" },
    ...extra,
  });

  it("sends a fast job rendered from its template", async () => {
    const to = `fast-${randomUUID()}@example.org`;
    await service.send(job(to));
    await until(() => delivered(to).length === 1);
    expect(delivered(to)[0]?.header("Subject")).toBe("Welcome Ada");
  });

  it("sends a tracked job once and records it sent with the provider's message id", async () => {
    const to = `tracked-${randomUUID()}@example.org`;
    const { job_id } = await service.send(job(to, { tracked: true }));
    await until(async () => (await jobs.get(job_id, { consistency: "strong" }))?.status === "sent");
    const view = await service.getJob(job_id);
    expect(view?.events).toMatchObject([
      { status: "sent", provider: "smtp", message_id: `<${job_id}@example.com>` },
    ]);
    expect(delivered(to)).toHaveLength(1);
  });

  it("never sends a tracked job twice when its message is delivered again", async () => {
    const to = `twice-${randomUUID()}@example.org`;
    const { job_id } = await service.send(job(to, { tracked: true }));
    await until(async () => (await jobs.get(job_id, { consistency: "strong" }))?.status === "sent");
    await queue.publish([{ body: encodeTrackedReference(job_id), lane: "normal" }]);
    await queue.publish([{ body: encodeTrackedReference(job_id), lane: "high" }]);
    await sleep(500);
    expect(delivered(to)).toHaveLength(1);
  });

  it("creates the row of a tracked job published straight to the queue, and sends it once if delivered twice", async () => {
    const to = `direct-${randomUUID()}@example.org`;
    const id = randomUUID();
    const body = JSON.stringify({ id, ...job(to, { tracked: true }) });
    await queue.publish([{ body, lane: "normal" }]);
    await until(async () => (await jobs.get(id, { consistency: "strong" }))?.status === "sent");
    await queue.publish([{ body, lane: "normal" }]);
    await sleep(500);
    expect(delivered(to)).toHaveLength(1);
    expect(await jobs.get(id, { consistency: "strong" })).toMatchObject({
      status: "sent",
      recipient_email: to,
    });
  });

  it("sends one email for repeated idempotency keys, on both paths", async () => {
    const key = randomUUID();
    const to = `idem-${randomUUID()}@example.org`;
    const first = await service.send(job(to, { idempotency_key: key }));
    const second = await service.send(job(to, { idempotency_key: key }));
    expect(second).toMatchObject({ job_id: first.job_id, duplicate: true });
    // A publisher bypassing the service with the same key is caught by the worker.
    await redis.xadd(`${name}:normal`, "*", "job", JSON.stringify(job(to, { idempotency_key: key })));
    await until(() => delivered(to).length >= 1);
    await sleep(500);
    expect(delivered(to)).toHaveLength(1);
  });

  it("retries a 451 and delivers, without using up the job's attempts", async () => {
    const to = `tempfail2-${randomUUID()}@example.org`;
    const { job_id } = await service.send(job(to, { tracked: true, max_retries: 0 }));
    // The row is marked sent after the server accepted the message: wait for the mark, not the mail.
    await until(async () => (await jobs.get(job_id, { consistency: "strong" }))?.status === "sent");
    expect(delivered(to)).toHaveLength(1);
    const row = await jobs.get(job_id, { consistency: "strong" });
    expect(row).toMatchObject({ status: "sent", retry_count: 0 });
    expect(sink.attempts.get(to)).toBe(3);
  });

  it("fails a 550 at once, without retrying, and dead-letters it with the reason", async () => {
    const to = `reject550-${randomUUID()}@example.org`;
    const { job_id } = await service.send(job(to, { tracked: true }));
    await until(async () => (await jobs.get(job_id, { consistency: "strong" }))?.status === "failed");
    expect(sink.attempts.get(to)).toBe(1);
    const row = await jobs.get(job_id, { consistency: "strong" });
    expect(row?.error_message).toMatch(/^smtp_550: /);
    expect(row?.error_message).not.toContain(to);
    const letters = await queue.listDeadLetters(50);
    expect(letters.find((l) => l.body.includes(job_id))?.reason).toMatch(/^smtp_550/);
  });

  it("retries a refused connection with backoff and gives up after max_retries", async () => {
    const down = loopbackSmtpProvider(1, { poolSize: 1, timeoutMs: 1_000 });
    // The queue side is recorded rather than performed, so each attempt can be driven by hand.
    const asked: string[] = [];
    const recorder: JobQueue = Object.assign(Object.create(queue) as JobQueue, {
      retry: async (_d: unknown, next: { attempt: number }) => void asked.push(`retry:${next.attempt}`),
      deadLetter: async (_d: unknown, reason: string) => void asked.push(`dead:${reason.split(":")[0]}`),
      ack: async () => void asked.push("ack"),
    });
    const processor = new JobProcessor({
      queue: recorder,
      queueName: name,
      jobs,
      tracking: new TrackingRepository(router),
      idempotency: new RedisIdempotencyStore(redis, name),
      campaigns: new CampaignOutcomeRepository(router),
      campaignOutcomes: new CampaignOutcomeRepository(router),
      renderer: new TemplateRenderer({
        source: { get: async () => undefined },
        pool: renderPool,
        maxTemplateBytes: 512 * 1024,
      }),
      router: singleProviderRouter(down),
      retryPolicy: new RetryPolicy({ baseDelayMs: 10, factor: 2, maxDelayMs: 40, jitter: 0 }),
      defaultMaxRetries: 2,
      suppressions: new SuppressionRepository(router),
      suppressionFailOpen: true,
      claimLeaseMs: 3_000,
      logger: silentLogger,
    });
    const id = randomUUID();
    await jobs.create({
      id,
      job_type: "t",
      recipient_email: "x@example.org",
      subject: "s",
      text_body: "t",
      max_retries: 2,
    });
    const body = encodeTrackedReference(id);
    const statuses: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const outcome = await processor.process({
        id: `0-${attempt}`,
        lane: "normal",
        body,
        attempt,
        redelivered: false,
      });
      statuses.push(outcome.status);
    }
    await down.close();
    expect(statuses).toEqual(["retrying", "retrying", "failed"]);
    expect(asked).toEqual(["retry:1", "retry:2", "dead:gave up after 3 attempts"]);
    expect(await jobs.get(id, { consistency: "strong" })).toMatchObject({ status: "failed", retry_count: 2 });
  });

  it("does not send to a suppressed address, and records why", async () => {
    const to = `Complained-${randomUUID()}@example.org`;
    await new SuppressionRepository(router).add({ email: to, reason: "complaint", source: "sendgrid" });
    const { job_id } = await service.send(job(to, { tracked: true }));
    const fast = await service.send(job(to));
    await until(async () => (await jobs.get(job_id, { consistency: "strong" }))?.status === "suppressed");
    await until(() => outcomes.filter((o) => o.status === "suppressed").length >= 2);
    expect(delivered(to.toLowerCase())).toHaveLength(0);
    expect(delivered(to)).toHaveLength(0);
    expect((await jobs.get(job_id, { consistency: "strong" }))?.error_message).toContain("complaint");
    expect(fast.job_id).toBeDefined();
  });

  it("dead-letters malformed messages and keeps consuming", async () => {
    const before = (await queue.listDeadLetters(100)).length;
    await redis.xadd(`${name}:normal`, "*", "job", "{not json");
    await redis.xadd(`${name}:normal`, "*", "job", JSON.stringify({ type: "x", recipient_email: 42 }));
    const to = `after-${randomUUID()}@example.org`;
    await service.send(job(to));
    await until(() => delivered(to).length === 1);
    await until(async () => (await queue.listDeadLetters(100)).length === before + 2);
    const reasons = (await queue.listDeadLetters(2)).map((l) => l.reason);
    expect(reasons.some((r) => r.includes("not JSON"))).toBe(true);
    expect(reasons.some((r) => r.includes("recipient_email"))).toBe(true);
  });

  it("holds a scheduled tracked job, and a cancelled one is never sent", async () => {
    const to = `sched-${randomUUID()}@example.org`;
    const soon = new Date(Date.now() + 700).toISOString();
    const kept = await service.send(job(to, { tracked: true, scheduled_at: soon }));
    const cancelledTo = `cancel-${randomUUID()}@example.org`;
    const cancelled = await service.send(job(cancelledTo, { tracked: true, scheduled_at: soon }));
    expect(await service.cancel(cancelled.job_id)).toMatchObject({ outcome: "cancelled" });
    expect(delivered(to)).toHaveLength(0);
    await until(() => delivered(to).length === 1);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(soon));
    await sleep(300);
    expect(delivered(cancelledTo)).toHaveLength(0);
    await until(async () => (await jobs.get(kept.job_id, { consistency: "strong" }))?.status === "sent");
    expect((await jobs.get(cancelled.job_id, { consistency: "strong" }))?.status).toBe("cancelled");
  });

  it("reports every outcome it reached", () => {
    expect([...new Set(outcomes.map((o) => o.status))]).toEqual(
      expect.arrayContaining(["sent", "skipped", "retrying", "failed", "dead_lettered", "suppressed"]),
    );
  });
});
