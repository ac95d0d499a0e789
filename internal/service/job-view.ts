import type { JsonValue } from "../job/email-job.ts";
import { laneOf } from "../job/priority.ts";
import type { EmailJobRecord } from "../store/job-repository.ts";
import type { TrackingRecord } from "../store/tracking-repository.ts";

/** One thing that happened to a job's message. */
export interface JobEventView {
  /** sent, failed, suppressed, delivered, deferred, bounced_hard, bounced_soft, complained, … */
  status: string;
  provider: string | null;
  message_id: string | null;
  at: Date;
  error_message: string | null;
}

/**
 * What the APIs show of a tracked job: the same fields over gRPC (EmailJobView, enums for the words)
 * and HTTP (JSON), and never the row's bookkeeping (claim lease, enqueue marks) or its unrendered
 * bodies. Priority is the request's word, not the stored −1…2; `provider` is the one asked for until
 * the job is sent, then the one that sent it.
 */
export interface JobView {
  id: string;
  type: string;
  recipient_email: string;
  recipient_name: string | null;
  status: string;
  priority: string;
  retry_count: number;
  max_retries: number;
  template_id: string | null;
  subject: string | null;
  provider: string | null;
  idempotency_key: string | null;
  error_message: string | null;
  scheduled_at: Date | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
  metadata: JsonValue | null;
  /** Addresses only, as recipient_email is; the Bcc ones are the API user's own, never in the message. */
  cc: string[];
  bcc: string[];
  tags: string[];
  sandbox: boolean;
  batch_id: string | null;
  /** The campaign that made it. */
  campaign_id: string | null;
  events: JobEventView[];
}

function addresses(value: unknown): string[] {
  return Array.isArray(value) ? value.map((m: { email?: unknown }) => String(m?.email ?? "")) : [];
}

export function jobView(job: EmailJobRecord, events: readonly TrackingRecord[] = []): JobView {
  return {
    id: job.id,
    type: job.job_type,
    recipient_email: job.recipient_email,
    recipient_name: job.recipient_name,
    status: job.status,
    priority: laneOf(job.priority),
    retry_count: job.retry_count,
    max_retries: job.max_retries,
    template_id: job.template_id,
    subject: job.subject,
    provider: job.provider,
    idempotency_key: job.idempotency_key,
    error_message: job.error_message,
    scheduled_at: job.scheduled_at,
    created_at: job.created_at,
    updated_at: job.updated_at,
    sent_at: job.sent_at,
    metadata: job.metadata as JsonValue | null,
    cc: addresses(job.cc),
    bcc: addresses(job.bcc),
    tags: job.tags ?? [],
    sandbox: job.sandbox ?? false,
    batch_id: job.batch_id ?? null,
    campaign_id: job.campaign_id ?? null,
    events: events.map((e) => ({
      status: e.status ?? "",
      provider: e.provider,
      message_id: e.message_id,
      // An event's own time: when the provider says it happened, else when it was recorded.
      at: e.delivered_at ?? e.opened_at ?? e.clicked_at ?? e.sent_at ?? e.created_at,
      error_message: e.error_message,
    })),
  };
}
