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

export class WebhookAuthError extends Error {
  override readonly name = "WebhookAuthError";
  readonly kind = "unauthenticated";
  /** 401: nothing to check (unsigned); 403: checked and refused (bad or stale signature). */
  readonly status: 401 | 403;

  constructor(status: 401 | 403, message: string) {
    super(message);
    this.status = status;
  }
}
