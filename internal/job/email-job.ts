export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Mailbox {
  email: string;
  name?: string | undefined;
}

export interface Attachment {
  filename: string;
  /** Base64, as on the wire. */
  content: string;
  content_type?: string | undefined;
}

/**
 * One email to its recipient (`recipient_email`, plus any `cc` and `bcc`), validated and normalised: the same shape on gRPC, Redis and Kafka
 * (snake_case, as the Go services publish it; see the README's "The job"). Inside the service this
 * type is trusted.
 */
export interface EmailJob {
  id: string;
  type: string;
  recipient_email: string;
  recipient_name?: string;
  template_id?: string;
  template_data: Record<string, JsonValue>;
  subject?: string;
  html?: string;
  text?: string;
  from?: Mailbox;
  reply_to?: Mailbox;
  /** Shown in the Cc header. */
  cc?: Mailbox[];
  /** In the envelope only: never in any header. */
  bcc?: Mailbox[];
  /** The client's labels (SendGrid categories, SES message tags, a filter on tracked jobs). */
  tags?: string[];
  /** Rendered and composed as for a real send, but never handed to a provider. */
  sandbox?: boolean;
  headers: Record<string, string>;
  attachments: Attachment[];
  priority: number;
  scheduled_at?: Date;
  tracked: boolean;
  idempotency_key?: string;
  provider?: string;
  max_retries?: number;
  metadata?: Record<string, JsonValue>;
  /** The batch it belongs to (tracked jobs only): listed, counted and cancelled with the others. */
  batch_id?: string;
  /**
   * An untracked campaign's job, put on the queue by the campaign's dispatch: the campaign, and the
   * recipient's place (`seq`) in its audience, where the worker records how the job ended.
   */
  campaign_id?: string;
  campaign_recipient?: number;
  /**
   * The W3C trace context of the request that made the job (set at intake, or by a publisher that
   * traces): the worker continues that trace. Not part of what is sent.
   */
  traceparent?: string;
  tracestate?: string;
}
