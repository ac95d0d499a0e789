import type { ProviderEvent, ProviderEventType } from "./provider-event.ts";

interface SesMail {
  messageId?: string;
  destination?: string[];
  tags?: Record<string, string[]>;
}

interface SesEvent {
  eventType?: string;
  notificationType?: string;
  mail?: SesMail;
  bounce?: {
    bounceType?: string;
    bouncedRecipients?: { emailAddress?: string; diagnosticCode?: string }[];
    timestamp?: string;
  };
  complaint?: { complainedRecipients?: { emailAddress?: string }[]; timestamp?: string };
  delivery?: { recipients?: string[]; timestamp?: string };
  deliveryDelay?: { delayedRecipients?: { emailAddress?: string }[]; timestamp?: string };
  open?: { timestamp?: string };
  click?: { timestamp?: string; link?: string };
  reject?: { reason?: string };
}

/**
 * An SES event (event publishing: `eventType`; feedback notifications: `notificationType`) as
 * provider events, one per affected recipient. The job id comes from the `job_id` message tag.
 * `snsMessageId` makes the event ids unique and stable across SNS redeliveries.
 */
export function parseSesEvent(message: string, snsMessageId: string): ProviderEvent[] {
  const event = JSON.parse(message) as SesEvent;
  const kind = event.eventType ?? event.notificationType;
  const mail = event.mail ?? {};
  const base = {
    provider: "ses",
    job_id: mail.tags?.job_id?.[0],
    message_id: mail.messageId,
  };
  const make = (
    type: ProviderEventType,
    recipients: (string | undefined)[],
    at: string | undefined,
    reason?: string,
  ) =>
    recipients
      .filter((r): r is string => typeof r === "string" && r !== "")
      .map((recipient, index) => ({
        ...base,
        event_id: `${snsMessageId}:${index}`,
        type,
        recipient,
        occurred_at: at ? new Date(at) : new Date(),
        reason,
      }));
  const destination = mail.destination ?? [];
  switch (kind) {
    case "Bounce": {
      const permanent = event.bounce?.bounceType === "Permanent";
      const recipients = event.bounce?.bouncedRecipients ?? [];
      return make(
        permanent ? "bounced_hard" : "bounced_soft",
        recipients.map((r) => r.emailAddress),
        event.bounce?.timestamp,
        recipients[0]?.diagnosticCode ?? event.bounce?.bounceType,
      );
    }
    case "Complaint":
      return make(
        "complained",
        (event.complaint?.complainedRecipients ?? []).map((r) => r.emailAddress),
        event.complaint?.timestamp,
      );
    case "Delivery":
      return make("delivered", event.delivery?.recipients ?? destination, event.delivery?.timestamp);
    case "DeliveryDelay":
      return make(
        "deferred",
        (event.deliveryDelay?.delayedRecipients ?? []).map((r) => r.emailAddress),
        event.deliveryDelay?.timestamp,
      );
    case "Open":
      return make("opened", destination, event.open?.timestamp);
    case "Click":
      return make("clicked", destination, event.click?.timestamp);
    case "Reject":
      return make("dropped", destination, undefined, event.reject?.reason);
    default:
      return [];
  }
}
