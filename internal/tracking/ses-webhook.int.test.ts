import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../test/http-server.ts";
import { type SnsSigner, startSnsSigner } from "../../test/sns-signing.ts";
import { silentLogger } from "../../test/store.ts";
import { EventRecorder } from "./event-recorder.ts";
import { SnsVerifier } from "./sns-verifier.ts";

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events";

/** SES events through an SNS HTTP subscription, signed with a test certificate served locally. */
describe("SES event webhook (SNS)", () => {
  let harness: TestHttpServer;
  let signer: SnsSigner;
  let base: string;
  let jobs: TestHttpServer["jobs"];
  let tracking: TestHttpServer["tracking"];
  let suppressions: TestHttpServer["suppressions"];

  beforeAll(async () => {
    signer = await startSnsSigner();
    harness = await startTestHttpServer(({ jobs, tracking, suppressions }) => ({
      webhooks: {
        recorder: new EventRecorder({ jobs, tracking, suppressions, logger: silentLogger }),
        sns: new SnsVerifier({ certificateHost: /^127\.0\.0\.1$/, maxAgeMs: 300_000 }),
        sesTopicArns: [TOPIC],
        maxAgeMs: 300_000,
      },
    }));
    ({ base, jobs, tracking, suppressions } = harness);
  });

  afterAll(async () => {
    await harness?.close();
    await signer?.close();
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
