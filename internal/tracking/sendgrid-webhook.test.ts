import { describe, expect, it } from "vitest";
import { sendGridWebhookKeys } from "../../test/sendgrid-signing.ts";
import { checkSendGridHeaders, parseSendGridEvents, verifySendGridSignature } from "./sendgrid-webhook.ts";

const keys = sendGridWebhookKeys();
const body = JSON.stringify([
  { email: "a@example.org", event: "delivered", sg_event_id: "e1", timestamp: 1 },
]);

function check(overrides: Partial<Parameters<typeof verifySendGridSignature>[0]> = {}) {
  const headers = keys.sign(body);
  return () =>
    verifySendGridSignature({
      publicKey: keys.publicKeyBase64,
      signature: headers["x-twilio-email-event-webhook-signature"],
      timestamp: headers["x-twilio-email-event-webhook-timestamp"],
      rawBody: Buffer.from(body),
      maxAgeMs: 300_000,
      ...overrides,
    });
}

describe("verifySendGridSignature", () => {
  it("accepts SendGrid's signature over timestamp and raw body", () => {
    expect(check()).not.toThrow();
  });

  it("refuses unsigned (unauthenticated), tampered, foreign-key and stale requests (permission denied)", () => {
    expect(check({ signature: undefined })).toThrow(expect.objectContaining({ kind: "unauthenticated" }));
    expect(check({ rawBody: Buffer.from(body.replace("delivered", "bounce")) })).toThrow(
      expect.objectContaining({ kind: "permission_denied" }),
    );
    expect(check({ publicKey: sendGridWebhookKeys().publicKeyBase64 })).toThrow(
      expect.objectContaining({ kind: "permission_denied" }),
    );
    expect(check({ now: Date.now() + 600_000 })).toThrow(
      expect.objectContaining({ kind: "permission_denied" }),
    );
    expect(check({ signature: "not base64 at all" })).toThrow(
      expect.objectContaining({ kind: "unauthenticated" }),
    );
  });

  it("judges the headers alone before any body is read: missing or malformed, then stale", () => {
    const now = 1_800_000_000_000;
    const headers = (signature: string | undefined, timestamp: string | undefined) => () =>
      checkSendGridHeaders({ signature, timestamp, maxAgeMs: 300_000, now });
    expect(headers("MEUCIQ==", "1800000000")()).toEqual({ signature: "MEUCIQ==", timestamp: "1800000000" });
    for (const [signature, timestamp] of [
      [undefined, "1800000000"],
      ["MEUCIQ==", undefined],
      ["MEUCIQ==", "1.8e9"],
      ["MEUCIQ==", "-1"],
      ["a".repeat(201), "1800000000"],
      ["sig\r\nx", "1800000000"],
    ])
      expect(headers(signature, timestamp), `${signature} ${timestamp}`).toThrow(
        expect.objectContaining({ kind: "unauthenticated" }),
      );
    expect(headers("MEUCIQ==", "1799999000")).toThrow(expect.objectContaining({ kind: "permission_denied" }));
  });
});

describe("parseSendGridEvents", () => {
  it("normalises a SendGrid batch, carrying our job id back from custom_args", () => {
    const events = parseSendGridEvents([
      {
        email: "a@example.org",
        timestamp: 1700000000,
        event: "processed",
        sg_event_id: "p1",
        sg_message_id: "m1.filter",
      },
      {
        email: "a@example.org",
        timestamp: 1700000001,
        event: "delivered",
        sg_event_id: "d1",
        sg_message_id: "m1.filter0001",
        job_id: "11111111-2222-4333-8444-555555555555",
        response: "250 OK",
      },
      {
        email: "b@example.org",
        timestamp: 1700000002,
        event: "bounce",
        type: "bounce",
        sg_event_id: "b1",
        reason: "550 5.1.1 unknown user",
      },
      { email: "c@example.org", timestamp: 1700000003, event: "bounce", type: "blocked", sg_event_id: "b2" },
      { email: "d@example.org", timestamp: 1700000004, event: "spamreport", sg_event_id: "s1" },
      { email: "e@example.org", timestamp: 1700000005, event: "open", sg_event_id: "o1" },
      { email: "e@example.org", timestamp: 1700000006, event: "click", sg_event_id: "c1" },
      { email: "f@example.org", timestamp: 1700000007, event: "group_unsubscribe", sg_event_id: "u1" },
      { email: "g@example.org", event: "delivered" },
    ]);
    expect(events.map((e) => e.type)).toEqual([
      "delivered",
      "bounced_hard",
      "bounced_soft",
      "complained",
      "opened",
      "clicked",
      "unsubscribed",
    ]);
    expect(events[0]).toMatchObject({
      provider: "sendgrid",
      event_id: "d1",
      job_id: "11111111-2222-4333-8444-555555555555",
      message_id: "m1",
      occurred_at: new Date(1700000001000),
      reason: "250 OK",
    });
    expect(() => parseSendGridEvents({ not: "an array" })).toThrow(TypeError);
  });
});
