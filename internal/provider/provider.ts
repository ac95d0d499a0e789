import type { Attachment, JsonValue, Mailbox } from "../job/email-job.ts";

/** A rendered email, ready for a provider. */
export interface OutgoingEmail {
  job_id: string;
  job_type: string;
  /** Absent: the provider's configured sender. */
  from?: Mailbox | undefined;
  to: Mailbox;
  /** Shown in the Cc header, and recipients of the same message. */
  cc?: readonly Mailbox[] | undefined;
  /** Recipients of the same message who appear in no header. */
  bcc?: readonly Mailbox[] | undefined;
  reply_to?: Mailbox | undefined;
  subject: string;
  html?: string | undefined;
  text: string;
  headers: Record<string, string>;
  attachments: readonly Attachment[];
  metadata?: Record<string, JsonValue> | undefined;
  /** The job's tags (SendGrid categories, SES message tags). */
  tags?: readonly string[] | undefined;
  /**
   * The job's priority (−1 low … 2 critical): where sends wait for a shared resource (an SMTP
   * connection), the more urgent go first. Absent: normal.
   */
  priority?: number | undefined;
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
  /**
   * Cc or Bcc recipients the provider refused while it took the message for the others (SMTP RCPT
   * refusals). The send still counts: sending again would repeat the message to everyone else.
   */
  refused_recipients?: { email: string; reason: string }[] | undefined;
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
   * The message `send` would hand over, composed (and DKIM-signed) the same way, but not sent: what a
   * sandbox job goes through. Rejects as `send` would for a message this provider cannot take.
   */
  compose?(email: OutgoingEmail): Promise<Buffer>;
  /**
   * Checks that the configuration works, sending nothing (SMTP: connect, EHLO, STARTTLS, AUTH; an
   * API: one cheap authenticated call). Resolves with what was checked; rejects with a DeliveryError.
   */
  verify(signal: AbortSignal): Promise<string>;
  /** Closes pooled connections; in-flight sends finish first. */
  close(): Promise<void>;
}
