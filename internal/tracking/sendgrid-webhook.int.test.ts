import { randomUUID } from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { sendGridWebhookKeys } from "../../test/sendgrid-signing.ts";
import { openMigratedRouter, silentLogger } from "../../test/store.ts";
import { PostgresIdempotencyStore } from "../queue/postgres/postgres-idempotency-store.ts";
import { PostgresQueue } from "../queue/postgres/postgres-queue.ts";
import { ApiKeyAuth } from "../server/auth/api-key-auth.ts";
import { HealthMonitor } from "../server/http/health-monitor.ts";
import { HttpServer } from "../server/http/http-server.ts";
import { EmailService } from "../service/email-service.ts";
import type { DatabaseRouter } from "../store/database-router.ts";
import { JobRepository } from "../store/job-repository.ts";
import { SuppressionRepository } from "../store/suppression-repository.ts";
import { TrackingRepository } from "../store/tracking-repository.ts";
import { EventRecorder } from "./event-recorder.ts";

/** POST /webhooks/sendgrid over real HTTP into a real database, signed like SendGrid signs. */
describe("SendGrid event webhook", () => {
  const keys = sendGridWebhookKeys();
  let database: TestDatabase;
  let router: DatabaseRouter;
  let server: HttpServer;
  let base: string;
  let jobs: JobRepository;
  let tracking: TrackingRepository;
  let suppressions: SuppressionRepository;

  beforeAll(async () => {
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url });
    jobs = new JobRepository(router);
    tracking = new TrackingRepository(router);
    suppressions = new SuppressionRepository(router);
    const queue = new PostgresQueue({ db: router.master, visibilityTimeoutMs: 60_000, pollIntervalMs: 100 });
    server = new HttpServer({
      port: 0,
      host: "127.0.0.1",
      service: new EmailService({
        queue,
        jobs,
        tracking,
        idempotency: new PostgresIdempotencyStore(router.master),
        suppressions,
        defaultMaxRetries: 3,
        logger: silentLogger,
      }),
      auth: new ApiKeyAuth([]),
      health: new HealthMonitor({
        version: "test",
        checkQueue: async () => {},
        checkDatabase: async () => {},
        replicaState: () => "none",
        providers: () => ({}),
        lastConsumerTick: () => new Date(),
        livenessThresholdMs: 60_000,
      }),
      registry: new Registry(),
      webhooks: {
        recorder: new EventRecorder({ jobs, tracking, suppressions, logger: silentLogger }),
        sendgridPublicKey: keys.publicKeyBase64,
        maxAgeMs: 300_000,
      },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${await server.start()}`;
  });

  afterAll(async () => {
    await server?.stop();
    await router?.destroy();
    await database?.drop();
  });

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${base}/webhooks/sendgrid`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
    });

  it("records a tracked job's events once each, in the order they happened, and suppresses bouncing addresses", async () => {
    const job = await jobs.create({ job_type: "welcome_email", recipient_email: "ada@example.org" });
    const bouncer = `gone-${randomUUID().slice(0, 6)}@example.org`;
    const complainer = `angry-${randomUUID().slice(0, 6)}@example.org`;
    // Delivered arrives after open: providers do not promise order.
    const body = JSON.stringify([
      {
        email: "ada@example.org",
        timestamp: 1_800_000_010,
        event: "open",
        sg_event_id: `o-${job.id}`,
        job_id: job.id,
      },
      {
        email: "ada@example.org",
        timestamp: 1_800_000_000,
        event: "delivered",
        sg_event_id: `d-${job.id}`,
        sg_message_id: "abc.filter1",
        job_id: job.id,
      },
      {
        email: bouncer,
        timestamp: 1_800_000_020,
        event: "bounce",
        type: "bounce",
        sg_event_id: `b-${job.id}`,
        reason: "550 unknown user",
      },
      { email: complainer, timestamp: 1_800_000_030, event: "spamreport", sg_event_id: `s-${job.id}` },
      {
        email: "soft@example.org",
        timestamp: 1_800_000_040,
        event: "bounce",
        type: "blocked",
        sg_event_id: `sb-${job.id}`,
      },
    ]);
    const first = await post(body, keys.sign(body));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ recorded: 2, duplicates: 0, suppressed: 2 });

    const again = await post(body, keys.sign(body));
    expect(await again.json()).toEqual({ recorded: 0, duplicates: 2, suppressed: 2 });

    const events = await tracking.listForJob(job.id);
    expect(events.map((e) => e.status)).toEqual(["delivered", "opened"]);
    expect(events[0]).toMatchObject({
      provider: "sendgrid",
      message_id: "abc",
      delivered_at: new Date(1_800_000_000_000),
    });
    expect((await tracking.latestForJob(job.id))?.status).toBe("opened");
    expect(await suppressions.find(bouncer)).toMatchObject({ reason: "hard_bounce", source: "sendgrid" });
    expect(await suppressions.find(complainer)).toMatchObject({ reason: "complaint" });
    expect(await suppressions.find("soft@example.org")).toBeUndefined();
  });

  it("refuses unsigned, badly signed and stale requests without changing anything", async () => {
    const victim = `victim-${randomUUID().slice(0, 6)}@example.org`;
    const body = JSON.stringify([
      { email: victim, timestamp: 1_800_000_000, event: "spamreport", sg_event_id: randomUUID() },
    ]);
    expect((await post(body, {})).status).toBe(401);
    const forged = {
      ...keys.sign(body),
      "x-twilio-email-event-webhook-signature":
        sendGridWebhookKeys().sign(body)["x-twilio-email-event-webhook-signature"],
    };
    expect((await post(body, forged)).status).toBe(403);
    const stale = keys.sign(body, String(Math.floor(Date.now() / 1000) - 3_600));
    expect((await post(body, stale)).status).toBe(403);
    expect((await post(`${body} `, keys.sign(body))).status).toBe(403);
    expect(await suppressions.find(victim)).toBeUndefined();
  });

  it("answers 400 to a signed body that is not an event batch", async () => {
    const body = JSON.stringify({ hello: "world" });
    expect((await post(body, keys.sign(body))).status).toBe(400);
  });
});
