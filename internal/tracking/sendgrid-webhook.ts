import { createPublicKey, verify } from "node:crypto";
import { type ProviderEvent, type ProviderEventType, WebhookAuthError } from "./provider-event.ts";

export const SENDGRID_SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature";
export const SENDGRID_TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp";

interface SendGridSignatureCheck {
  /** The verification key SendGrid shows for the Event Webhook: base64 of a SPKI DER P-256 key. */
  publicKey: string;
  signature: string | undefined;
  timestamp: string | undefined;
  /** The body exactly as received: the signature covers the bytes, not the parsed JSON. */
  rawBody: Buffer;
  /** Older signatures are refused, so a captured request cannot be replayed later. */
  maxAgeMs: number;
  now?: number;
}

/** An ECDSA P-256 signature in DER is at most 72 bytes: 96 base64 characters. */
const SIGNATURE_FORMAT = /^[A-Za-z0-9+/]{1,200}={0,2}$/;
/** Unix seconds. */
const TIMESTAMP_FORMAT = /^\d{1,12}$/;

/**
 * What can be checked before the body is read: both headers present and well-formed (else
 * unauthenticated), and the timestamp recent (else permission denied). Run first, so that an
 * unsigned or replayed request never gets its body buffered.
 */
export function checkSendGridHeaders(check: Omit<SendGridSignatureCheck, "publicKey" | "rawBody">): {
  signature: string;
  timestamp: string;
} {
  const { signature, timestamp } = check;
  if (!signature || !timestamp)
    throw new WebhookAuthError("unauthenticated", "missing SendGrid signature headers");
  if (!SIGNATURE_FORMAT.test(signature) || !TIMESTAMP_FORMAT.test(timestamp))
    throw new WebhookAuthError("unauthenticated", "malformed SendGrid signature headers");
  if (Math.abs((check.now ?? Date.now()) - Number(timestamp) * 1000) > check.maxAgeMs)
    throw new WebhookAuthError("permission_denied", "stale SendGrid webhook timestamp");
  return { signature, timestamp };
}

/** SendGrid's Signed Event Webhook: ECDSA P-256 / SHA-256 over timestamp + raw body. */
export function verifySendGridSignature(check: SendGridSignatureCheck): void {
  const { signature, timestamp } = checkSendGridHeaders(check);
  let valid = false;
  try {
    const key = createPublicKey({ key: Buffer.from(check.publicKey, "base64"), format: "der", type: "spki" });
    const payload = Buffer.concat([Buffer.from(timestamp, "utf8"), check.rawBody]);
    valid = verify("sha256", payload, { key, dsaEncoding: "der" }, Buffer.from(signature, "base64"));
  } catch {
    valid = false;
  }
  if (!valid) throw new WebhookAuthError("permission_denied", "SendGrid webhook signature does not verify");
}

interface SendGridEvent {
  email?: string;
  timestamp?: number;
  event?: string;
  sg_event_id?: string;
  sg_message_id?: string;
  job_id?: string;
  reason?: string;
  response?: string;
  type?: string;
}

function eventType(event: SendGridEvent): ProviderEventType | undefined {
  switch (event.event) {
    case "delivered":
      return "delivered";
    case "deferred":
      return "deferred";
    case "bounce":
      // SendGrid's "blocked" is a soft bounce: the receiver refused for now, the address may be fine.
      return event.type === "blocked" ? "bounced_soft" : "bounced_hard";
    case "dropped":
      return "dropped";
    case "open":
      return "opened";
    case "click":
      return "clicked";
    case "spamreport":
      return "complained";
    case "unsubscribe":
    case "group_unsubscribe":
      return "unsubscribed";
    default:
      return undefined;
  }
}

/**
 * SendGrid's event batch as provider events. Our job id comes back as a top-level field (it was sent
 * in custom_args); `processed` and unknown event types are skipped.
 */
export function parseSendGridEvents(body: unknown): ProviderEvent[] {
  if (!Array.isArray(body)) throw new TypeError("a SendGrid event batch is a JSON array");
  const events: ProviderEvent[] = [];
  for (const raw of body as SendGridEvent[]) {
    const type = eventType(raw);
    if (!type || !raw.email || !raw.sg_event_id) continue;
    events.push({
      provider: "sendgrid",
      event_id: raw.sg_event_id,
      type,
      job_id: typeof raw.job_id === "string" ? raw.job_id : undefined,
      // sg_message_id is the x-message-id plus a suffix per recipient.
      message_id: raw.sg_message_id?.split(".")[0],
      recipient: raw.email,
      occurred_at: new Date((raw.timestamp ?? Date.now() / 1000) * 1000),
      reason: raw.reason ?? raw.response,
    });
  }
  return events;
}
