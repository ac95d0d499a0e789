import { randomUUID } from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { type SnsSigner, startSnsSigner } from "../../test/sns-signing.ts";
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
import { SnsVerifier } from "./sns-verifier.ts";

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events";

/** SES events through an SNS HTTP subscription, signed with a test certificate served locally. */
describe("SES event webhook (SNS)", () => {
  let database: TestDatabase;
  let router: DatabaseRouter;
  let server: HttpServer;
  let signer: SnsSigner;
  let base: string;
  let jobs: JobRepository;
  let tracking: TrackingRepository;
  let suppressions: SuppressionRepository;

  beforeAll(async () => {
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url });
    signer = await startSnsSigner();
    jobs = new JobRepository(router);
    tracking = new TrackingRepository(router);
    suppressions = new SuppressionRepository(router);
    server = new HttpServer({
      port: 0,
      host: "127.0.0.1",
      service: new EmailService({
        queue: new PostgresQueue({ db: router.master, visibilityTimeoutMs: 60_000, pollIntervalMs: 100 }),
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
        sns: new SnsVerifier({ certificateHost: /^127\.0\.0\.1$/, maxAgeMs: 300_000 }),
        sesTopicArns: [TOPIC],
        maxAgeMs: 300_000,
      },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${await server.start()}`;
  });

  afterAll(async () => {
    await server?.stop();
    await signer?.close();
    await router?.destroy();
    await database?.drop();
  });

  const post = (message: unknown) =>
    fetch(`${base}/webhooks/ses`, {
      method: "POST",
      body: JSON.stringify(message),
      headers: { "content-type": "text/plain" },
    });

  const sesEvent = (event: Record<string, unknown>, jobId?: string) =>
    JSON.stringify({
      ...event,
      mail: {
        messageId: "0100018c-ses-id",
        destination: ["ada@example.org"],
        ...(jobId && { tags: { job_id: [jobId] } }),
      },
    });

  it("confirms a subscription from an allowed topic", async () => {
    const message = signer.sign({
      Type: "SubscriptionConfirmation",
      TopicArn: TOPIC,
      Message: "You have chosen to subscribe",
      Token: "token-1",
      SubscribeURL: `${signer.baseUrl}/confirm?token=token-1`,
    });
    const response = await post(message);
    expect(response.status).toBe(200);
    expect(signer.confirmations).toEqual(["/confirm?token=token-1"]);
  });

  it("records delivery and bounce for the tracked job, once, and suppresses hard bounces and complaints", async () => {
    const job = await jobs.create({ job_type: "payment_receipt", recipient_email: "ada@example.org" });
    const gone = `gone-${randomUUID().slice(0, 6)}@example.org`;
    const angry = `angry-${randomUUID().slice(0, 6)}@example.org`;
    const delivered = signer.sign({
      Type: "Notification",
      TopicArn: TOPIC,
      Message: sesEvent(
        {
          eventType: "Delivery",
          delivery: { recipients: ["ada@example.org"], timestamp: "2026-11-23T10:00:00.000Z" },
        },
        job.id,
      ),
    });
    expect(await (await post(delivered)).json()).toEqual({ recorded: 1, duplicates: 0, suppressed: 0 });
    expect(await (await post(delivered)).json()).toEqual({ recorded: 0, duplicates: 1, suppressed: 0 });

    const bounce = signer.sign({
      Type: "Notification",
      TopicArn: TOPIC,
      Message: sesEvent({
        eventType: "Bounce",
        bounce: {
          bounceType: "Permanent",
          bouncedRecipients: [{ emailAddress: gone, diagnosticCode: "smtp; 550 5.1.1 user unknown" }],
        },
      }),
    });
    expect(await (await post(bounce)).json()).toMatchObject({ suppressed: 1 });
    const complaint = signer.sign({
      Type: "Notification",
      TopicArn: TOPIC,
      Message: JSON.stringify({
        notificationType: "Complaint",
        complaint: { complainedRecipients: [{ emailAddress: angry }] },
        mail: {},
      }),
    });
    expect((await post(complaint)).status).toBe(200);
    const transient = signer.sign({
      Type: "Notification",
      TopicArn: TOPIC,
      Message: sesEvent({
        eventType: "Bounce",
        bounce: { bounceType: "Transient", bouncedRecipients: [{ emailAddress: "full@example.org" }] },
      }),
    });
    expect((await post(transient)).status).toBe(200);

    expect((await tracking.listForJob(job.id)).map((e) => [e.status, e.provider, e.message_id])).toEqual([
      ["delivered", "ses", "0100018c-ses-id"],
    ]);
    expect(await suppressions.find(gone)).toMatchObject({ reason: "hard_bounce", source: "ses" });
    expect(await suppressions.find(angry)).toMatchObject({ reason: "complaint" });
    expect(await suppressions.find("full@example.org")).toBeUndefined();
  });

  it("refuses forged, foreign, stale and unsigned messages, and never fetches from other hosts", async () => {
    const victim = `victim-${randomUUID().slice(0, 6)}@example.org`;
    const message = () =>
      signer.sign({
        Type: "Notification",
        TopicArn: TOPIC,
        Message: JSON.stringify({
          notificationType: "Complaint",
          complaint: { complainedRecipients: [{ emailAddress: victim }] },
          mail: {},
        }),
      });
    expect((await post({ ...message(), Message: "{}" })).status).toBe(403);
    expect((await post({ ...message(), SigningCertURL: "https://evil.example.com/cert.pem" })).status).toBe(
      403,
    );
    expect((await post({ ...message(), SigningCertURL: "http://127.0.0.1:1/cert.pem" })).status).toBe(403);
    expect(
      (
        await post(
          signer.sign({ Type: "Notification", TopicArn: "arn:aws:sns:eu-west-1:999:other", Message: "{}" }),
        )
      ).status,
    ).toBe(403);
    const stale = signer.sign({
      Type: "Notification",
      TopicArn: TOPIC,
      Message: "{}",
      Timestamp: "2020-01-01T00:00:00.000Z",
    });
    expect((await post(stale)).status).toBe(403);
    const { Signature: _, ...unsigned } = message();
    expect((await post(unsigned)).status).toBe(401);
    expect(await suppressions.find(victim)).toBeUndefined();
  });
});
