import { KindedError } from "../errors/error-kind.ts";

/** What happened to a sent message, in the same words whichever provider reported it. */
export type ProviderEventType =
  | "delivered"
  | "deferred"
  | "bounced_hard"
  | "bounced_soft"
  | "complained"
  | "opened"
  | "clicked"
  | "dropped"
  | "unsubscribed";

export interface ProviderEvent {
  provider: string;
  /** The provider's id for the event (deduplication). */
  event_id: string;
  type: ProviderEventType;
  /** Our job id, when the provider carried it back (SendGrid custom_args, SES tags). */
  job_id: string | undefined;
  /** The provider's id for the message. */
  message_id: string | undefined;
  recipient: string;
  occurred_at: Date;
  /** Bounce or drop reason, as the provider put it. */
  reason: string | undefined;
}

/**
 * A webhook request that is not the provider's: `unauthenticated` when there is nothing to check
 * (unsigned), `permission_denied` when it was checked and refused (bad or stale signature, a host
 * or topic not allowed).
 */
export class WebhookAuthError extends KindedError<"unauthenticated" | "permission_denied"> {
  override readonly name = "WebhookAuthError";

  constructor(kind: "unauthenticated" | "permission_denied", message: string) {
    super(kind, message, { code: "webhook_signature" });
  }
}
