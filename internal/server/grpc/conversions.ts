import type {
  EmailJobView,
  DeadLetter as ProtoDeadLetter,
  EmailJob as ProtoEmailJob,
  Mailbox as ProtoMailbox,
  Template as ProtoTemplate,
} from "../../gen/emailworker/v1/email_worker.ts";
import { Priority } from "../../gen/emailworker/v1/email_worker.ts";
import {
  deadLetterCauseToProto,
  eventTypeToProto,
  jobStatusToProto,
  priorityToProto,
} from "../../proto/enums.ts";
import { truncatedBody } from "../../queue/dead-letter-body.ts";
import { causeOf } from "../../queue/dead-letter-reason.ts";
import type { DeadLetter } from "../../queue/queue.ts";
import { jobView } from "../../service/job-view.ts";
import { templateRecordView } from "../../service/template-view.ts";
import type { EmailJobRecord } from "../../store/job-repository.ts";
import type { EmailTemplateRecord } from "../../store/template-repository.ts";
import type { TrackingRecord } from "../../store/tracking-repository.ts";

const PRIORITY_NAMES: Record<number, string | undefined> = {
  [Priority.PRIORITY_LOW]: "low",
  [Priority.PRIORITY_NORMAL]: "normal",
  [Priority.PRIORITY_HIGH]: "high",
  [Priority.PRIORITY_CRITICAL]: "critical",
};

function mailbox(value: ProtoMailbox | undefined): Record<string, string> | undefined {
  if (!value || (value.email === "" && value.name === "")) return undefined;
  return value.name ? { email: value.email, name: value.name } : { email: value.email };
}

/**
 * The wire-format object for a gRPC job, for the same validation every other edge uses. proto3
 * cannot tell an empty string from an absent one, so empty means absent.
 */
export function jobInputFromProto(job: ProtoEmailJob | undefined): Record<string, unknown> {
  if (!job) return {};
  const input: Record<string, unknown> = {};
  const text = (key: string, value: string) => {
    if (value !== "") input[key] = value;
  };
  text("id", job.id);
  text("type", job.type);
  text("recipient_email", job.recipient_email);
  text("recipient_name", job.recipient_name);
  text("template_id", job.template_id);
  text("subject", job.subject);
  text("html", job.html);
  text("text", job.text);
  text("idempotency_key", job.idempotency_key);
  text("provider", job.provider);
  text("batch_id", job.batch_id);
  if (job.template_data) input.template_data = job.template_data;
  if (job.metadata) input.metadata = job.metadata;
  // The proto calls it `sender` (`from` is a Python keyword); the wire format keeps `from`.
  const from = mailbox(job.sender);
  if (from) input.from = from;
  const replyTo = mailbox(job.reply_to);
  if (replyTo) input.reply_to = replyTo;
  if (Object.keys(job.headers).length > 0) input.headers = job.headers;
  if (job.attachments.length > 0) {
    input.attachments = job.attachments.map((a) => ({
      filename: a.filename,
      content: Buffer.from(a.content).toString("base64"),
      ...(a.content_type && { content_type: a.content_type }),
    }));
  }
  const priority = PRIORITY_NAMES[job.priority];
  if (priority) input.priority = priority;
  else if (job.priority !== Priority.PRIORITY_UNSPECIFIED) input.priority = job.priority;
  if (job.scheduled_at) input.scheduled_at = job.scheduled_at.toISOString();
  if (job.tracked) input.tracked = true;
  if (job.max_retries !== undefined) input.max_retries = job.max_retries;
  // A mailbox left empty stays in the list: validation then names it (cc[1].email), not skips it.
  if (job.cc.length > 0) input.cc = job.cc.map((m) => mailbox(m) ?? { email: "" });
  if (job.bcc.length > 0) input.bcc = job.bcc.map((m) => mailbox(m) ?? { email: "" });
  if (job.tags.length > 0) input.tags = job.tags;
  if (job.sandbox) input.sandbox = true;
  return input;
}

function asStruct(value: unknown): { [key: string]: unknown } | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as { [key: string]: unknown })
    : undefined;
}

/** The job view (see internal/service/job-view.ts) as protobuf: proto3 has no null, so empty strings. */
export function jobViewFromRecord(job: EmailJobRecord, events: readonly TrackingRecord[] = []): EmailJobView {
  const view = jobView(job, events);
  return {
    id: view.id,
    type: view.type,
    recipient_email: view.recipient_email,
    status: jobStatusToProto(view.status),
    priority: priorityToProto(job.priority),
    retry_count: view.retry_count,
    max_retries: view.max_retries,
    template_id: view.template_id ?? "",
    subject: view.subject ?? "",
    provider: view.provider ?? "",
    error_message: view.error_message ?? "",
    scheduled_at: view.scheduled_at ?? undefined,
    created_at: view.created_at,
    updated_at: view.updated_at,
    sent_at: view.sent_at ?? undefined,
    metadata: asStruct(view.metadata),
    tags: view.tags,
    sandbox: view.sandbox,
    batch_id: view.batch_id ?? "",
    campaign_id: view.campaign_id ?? "",
    cc: view.cc,
    bcc: view.bcc,
    events: view.events.map((e) => ({
      status: eventTypeToProto(e.status),
      provider: e.provider ?? "",
      message_id: e.message_id ?? "",
      at: e.at,
      error_message: e.error_message ?? "",
    })),
  };
}

export function templateFromRecord(template: EmailTemplateRecord): ProtoTemplate {
  return templateRecordView(template);
}

/** A dead letter for a listing: its body cut at a character boundary, with its whole size. */
export function deadLetterView(letter: DeadLetter): ProtoDeadLetter {
  const { cause, code } = causeOf(letter.reason);
  return {
    ...letter,
    cause: deadLetterCauseToProto(cause),
    error_code: code ?? "",
    ...truncatedBody(letter.body),
  };
}
