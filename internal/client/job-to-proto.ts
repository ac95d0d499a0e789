import { Priority, EmailJob as ProtoEmailJob } from "../gen/emailworker/v1/email_worker.ts";
import type { EmailJob } from "../job/email-job.ts";

const PRIORITIES: Record<number, Priority> = {
  [-1]: Priority.PRIORITY_LOW,
  0: Priority.PRIORITY_NORMAL,
  1: Priority.PRIORITY_HIGH,
  2: Priority.PRIORITY_CRITICAL,
};

/** A validated job in the gRPC message form (the inverse of the server's conversion). */
export function jobToProto(job: EmailJob): ProtoEmailJob {
  return ProtoEmailJob.fromPartial({
    id: job.id,
    type: job.type,
    recipient_email: job.recipient_email,
    recipient_name: job.recipient_name ?? "",
    template_id: job.template_id ?? "",
    template_data: job.template_data,
    subject: job.subject ?? "",
    html: job.html ?? "",
    text: job.text ?? "",
    sender: job.from ? { email: job.from.email, name: job.from.name ?? "" } : undefined,
    reply_to: job.reply_to ? { email: job.reply_to.email, name: job.reply_to.name ?? "" } : undefined,
    headers: job.headers,
    attachments: job.attachments.map((a) => ({
      filename: a.filename,
      content: Buffer.from(a.content, "base64"),
      content_type: a.content_type ?? "",
    })),
    priority: PRIORITIES[job.priority] ?? Priority.PRIORITY_NORMAL,
    scheduled_at: job.scheduled_at,
    tracked: job.tracked,
    idempotency_key: job.idempotency_key ?? "",
    provider: job.provider ?? "",
    max_retries: job.max_retries,
    metadata: job.metadata,
    cc: (job.cc ?? []).map((m) => ({ email: m.email, name: m.name ?? "" })),
    bcc: (job.bcc ?? []).map((m) => ({ email: m.email, name: m.name ?? "" })),
    tags: job.tags ?? [],
    sandbox: job.sandbox ?? false,
    batch_id: job.batch_id ?? "",
  });
}
