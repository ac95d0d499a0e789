import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../test/http-server.ts";
import { sendGridWebhookKeys } from "../../test/sendgrid-signing.ts";
import { silentLogger } from "../../test/store.ts";
import { latestTrackingEvent } from "../../test/store-queries.ts";
import { EventRecorder } from "./event-recorder.ts";

/** POST /webhooks/sendgrid over real HTTP into a real database, signed like SendGrid signs. */
describe("SendGrid event webhook", () => {
  const keys = sendGridWebhookKeys();
  let harness: TestHttpServer;
  let base: string;
  let jobs: TestHttpServer["jobs"];
  let tracking: TestHttpServer["tracking"];
  let suppressions: TestHttpServer["suppressions"];

  beforeAll(async () => {
    harness = await startTestHttpServer(({ jobs, tracking, suppressions }) => ({
      webhooks: {
        recorder: new EventRecorder({ jobs, tracking, suppressions, logger: silentLogger }),
        sendgridPublicKey: keys.publicKeyBase64,
        maxAgeMs: 300_000,
      },
    }));
    ({ base, jobs, tracking, suppressions } = harness);
  });

  afterAll(async () => harness?.close());

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
    expect((await latestTrackingEvent(harness.router, job.id))?.status).toBe("opened");
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
