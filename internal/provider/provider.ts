import type { Attachment, JsonValue, Mailbox } from "../job/email-job.ts";

/** A rendered email, ready for a provider. */
export interface OutgoingEmail {
  job_id: string;
  job_type: string;
  /** Absent: the provider's configured sender. */
  from?: Mailbox | undefined;
  to: Mailbox;
  reply_to?: Mailbox | undefined;
  subject: string;
  html?: string | undefined;
  text: string;
  headers: Record<string, string>;
  attachments: readonly Attachment[];
  metadata?: Record<string, JsonValue> | undefined;
  /**
   * A template kept at the provider (a SendGrid dynamic template, `d-…`): the provider renders it
   * with `data`, and subject/html/text are not used. Providers without such templates refuse it.
   */
  provider_template?: { id: string; data: Record<string, JsonValue> } | undefined;
}

export interface SendResult {
  provider: string;
  /** The provider's id for the message (Message-ID, SendGrid x-message-id, SES MessageId). */
  message_id: string;
}

/**
 * One way out of the service. Adapters translate their SDK's errors into DeliveryError at this
 * boundary; nothing above them sees an SMTP client, SendGrid or AWS error.
 */
export interface Provider {
  readonly name: string;
  /** Rejects with a DeliveryError. `signal` aborts a send that ran past the job's time limit. */
  send(email: OutgoingEmail, signal?: AbortSignal): Promise<SendResult>;
  /**
   * Checks that the configuration works, sending nothing (SMTP: connect, EHLO, STARTTLS, AUTH; an
   * API: one cheap authenticated call). Resolves with what was checked; rejects with a DeliveryError.
   */
  verify(signal: AbortSignal): Promise<string>;
  /** Closes pooled connections; in-flight sends finish first. */
  close(): Promise<void>;
}
