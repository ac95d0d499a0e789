import type { Attachment, EmailJob, JsonValue, Mailbox } from "../job/email-job.ts";
import { derivedJobId } from "../job/job-id.ts";
import type { EmailJobRecord, NewEmailJob } from "./job-repository.ts";

/** The row a tracked job is stored as. */
export function jobToRow(job: EmailJob): NewEmailJob {
  return {
    id: job.id,
    job_type: job.type,
    recipient_email: job.recipient_email,
    recipient_name: job.recipient_name ?? null,
    subject: job.subject ?? null,
    template_id: job.template_id ?? null,
    template_data: job.template_data,
    html_body: job.html ?? null,
    text_body: job.text ?? null,
    from_email: job.from?.email ?? null,
    from_name: job.from?.name ?? null,
    reply_to: job.reply_to?.email ?? null,
    reply_to_name: job.reply_to?.name ?? null,
    headers: job.headers,
    attachments: job.attachments as unknown as JsonValue,
    priority: job.priority,
    ...(job.max_retries !== undefined && { max_retries: job.max_retries }),
    scheduled_at: job.scheduled_at ?? null,
    provider: job.provider ?? null,
    idempotency_key: job.idempotency_key ?? null,
    metadata: job.metadata ?? null,
    cc: (job.cc as unknown as JsonValue) ?? null,
    bcc: (job.bcc as unknown as JsonValue) ?? null,
    ...(job.tags !== undefined && { tags: job.tags }),
    ...(job.sandbox && { sandbox: true }),
    ...(job.batch_id !== undefined && { batch_id: job.batch_id }),
  };
}

/** A stored address and its display name as a mailbox; an empty or missing name is left out. */
const storedMailbox = (email: string, name: string | null): Mailbox => (name ? { email, name } : { email });

/** Mailboxes stored as JSON (cc, bcc); anything else (a Go-written NULL) is none. */
function mailboxes(value: unknown): Mailbox[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  return (value as Mailbox[]).map((m) => storedMailbox(m.email, m.name ?? null));
}

function asRecord(value: unknown): Record<string, JsonValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, JsonValue>)
    : {};
}

/** The job a stored row describes (rows written by the Go service included: absent columns are null). */
export function rowToJob(row: EmailJobRecord): EmailJob {
  const job: EmailJob = {
    id: row.id,
    type: row.job_type,
    recipient_email: row.recipient_email,
    template_data: asRecord(row.template_data),
    headers: asRecord(row.headers) as Record<string, string>,
    attachments: Array.isArray(row.attachments) ? (row.attachments as unknown as Attachment[]) : [],
    priority: row.priority,
    tracked: true,
    max_retries: row.max_retries,
  };
  if (row.recipient_name) job.recipient_name = row.recipient_name;
  if (row.template_id) job.template_id = row.template_id;
  if (row.subject) job.subject = row.subject;
  if (row.html_body) job.html = row.html_body;
  if (row.text_body) job.text = row.text_body;
  if (row.from_email) job.from = storedMailbox(row.from_email, row.from_name);
  if (row.reply_to) job.reply_to = storedMailbox(row.reply_to, row.reply_to_name);
  if (row.scheduled_at) job.scheduled_at = row.scheduled_at;
  if (row.provider) job.provider = row.provider;
  if (row.idempotency_key) job.idempotency_key = row.idempotency_key;
  if (row.metadata) job.metadata = asRecord(row.metadata);
  const cc = mailboxes(row.cc);
  if (cc) job.cc = cc;
  const bcc = mailboxes(row.bcc);
  if (bcc) job.bcc = bcc;
  // Rows older than 010 read with the column defaults: no tags, not a sandbox job.
  if (row.tags?.length) job.tags = [...row.tags];
  if (row.sandbox) job.sandbox = true;
  if (row.batch_id) job.batch_id = row.batch_id;
  return job;
}

/** What an untracked campaign's jobs share: the campaign's content and options. */
export interface CampaignJobFields {
  id: string;
  job_type: string;
  template_id: string;
  subject: string | null;
  from_email: string | null;
  from_name: string | null;
  reply_to: string | null;
  reply_to_name: string | null;
  headers: unknown;
  provider: string | null;
  priority: number;
  max_retries: number;
  tags: readonly string[];
}

/** One recipient of a campaign's audience, its data already merged over the campaign's. */
export interface CampaignRecipientFields {
  seq: number;
  email: string;
  name: string | null;
  template_data: unknown;
}

/**
 * The whole job an untracked campaign puts on the queue for one recipient. Its id is derived from
 * the recipient's place in the campaign, so the job dispatched again (a parked recipient, a slice
 * published twice) is the same job.
 */
export function campaignRecipientJob(
  campaign: CampaignJobFields,
  recipient: CampaignRecipientFields,
): EmailJob {
  const job: EmailJob = {
    id: derivedJobId(`campaign/${campaign.id}/${recipient.seq}`),
    type: campaign.job_type,
    recipient_email: recipient.email,
    template_id: campaign.template_id,
    template_data: asRecord(recipient.template_data),
    headers: asRecord(campaign.headers) as Record<string, string>,
    attachments: [],
    priority: campaign.priority,
    tracked: false,
    max_retries: campaign.max_retries,
    campaign_id: campaign.id,
    campaign_recipient: recipient.seq,
  };
  if (recipient.name) job.recipient_name = recipient.name;
  if (campaign.subject) job.subject = campaign.subject;
  if (campaign.from_email) job.from = storedMailbox(campaign.from_email, campaign.from_name);
  if (campaign.reply_to) job.reply_to = storedMailbox(campaign.reply_to, campaign.reply_to_name);
  if (campaign.provider) job.provider = campaign.provider;
  if (campaign.tags.length > 0) job.tags = [...campaign.tags];
  return job;
}
