import type { ColumnType, Generated, RawBuilder, Selectable } from "kysely";
import type { JsonValue } from "../job/email-job.ts";

/**
 * JSONB columns are written as JSON text: node-postgres would turn a JS array into a Postgres
 * array literal, not JSON.
 */
type JsonColumn = ColumnType<JsonValue | null, string | null | undefined, string | null>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Defaulted<T> = ColumnType<T, T | undefined, T>;

/** `email_jobs`: the Go service's columns (001) and the job details added by 002. */
export interface EmailJobTable {
  id: Generated<string>;
  job_type: string;
  recipient_email: string;
  subject: string | null;
  template_id: string | null;
  template_data: JsonColumn;
  status: Defaulted<string>;
  priority: Defaulted<number>;
  retry_count: Defaulted<number>;
  max_retries: Defaulted<number>;
  scheduled_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  recipient_name: string | null;
  from_email: string | null;
  from_name: string | null;
  reply_to: string | null;
  reply_to_name: string | null;
  headers: JsonColumn;
  html_body: string | null;
  text_body: string | null;
  attachments: JsonColumn;
  provider: string | null;
  idempotency_key: string | null;
  metadata: JsonColumn;
  error_message: string | null;
  locked_until: NullableTimestamp;
  sent_at: NullableTimestamp;
  enqueued_at: NullableTimestamp;
  next_attempt_at: NullableTimestamp;
  /** 010: the job's Cc and Bcc mailboxes (JSON arrays), tags and sandbox flag. */
  cc: JsonColumn;
  bcc: JsonColumn;
  tags: Defaulted<string[]>;
  sandbox: Defaulted<boolean>;
  /** 011: the campaign that made this job. */
  campaign_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** 012: the batch it was sent in (SendBatch's batch_id). */
  batch_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface EmailTemplateTable {
  id: string;
  name: string;
  subject: string | null;
  html_template: string | null;
  text_template: string | null;
  variables: JsonColumn;
  is_active: Defaulted<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface EmailTrackingTable {
  id: Generated<string>;
  job_id: string | null;
  provider: string | null;
  message_id: string | null;
  status: string | null;
  sent_at: NullableTimestamp;
  delivered_at: NullableTimestamp;
  opened_at: NullableTimestamp;
  clicked_at: NullableTimestamp;
  error_message: string | null;
  created_at: Timestamp;
  event_id: string | null;
  occurred_at: NullableTimestamp;
  machine_open: boolean | null;
}

interface EmailQueueTable {
  id: Generated<string>;
  lane: number;
  body: string;
  attempt: Defaulted<number>;
  run_at: Timestamp;
  locked_until: NullableTimestamp;
  deliveries: Defaulted<number>;
  dead: Defaulted<boolean>;
  reason: string | null;
  failed_at: NullableTimestamp;
  created_at: Timestamp;
}

interface EmailIdempotencyKeyTable {
  key: string;
  job_id: string;
  state: string;
  fingerprint: string | null;
  expires_at: ColumnType<Date, Date | string, Date | string>;
}

export interface EmailSuppressionTable {
  email: string;
  reason: string;
  source: string;
  details: string | null;
  created_at: Timestamp;
}

/** `email_unattributed_bounces`: what the bounce listener took but could not record as an event. */
export interface EmailUnattributedBounceTable {
  id: Generated<string>;
  reason: string;
  details: string | null;
  mail_from: string | null;
  rcpt_to: string;
  remote_address: string | null;
  raw: ColumnType<Uint8Array, Uint8Array, Uint8Array>;
  raw_bytes: number;
  received_at: Timestamp;
}

/** BIGINT: node-postgres reads it as a string, PGlite as a number; read through Number(). */
type Int8 = ColumnType<string | number | bigint, number | undefined, number | RawBuilder<number>>;

/** `email_campaigns` (011): a campaign, its dispatch position and its counters. */
export interface EmailCampaignTable {
  id: Generated<string>;
  name: string;
  job_type: string;
  status: Defaulted<string>;
  template_id: string;
  subject: string | null;
  template_data: ColumnType<Record<string, JsonValue>, string | undefined, string>;
  from_email: string | null;
  from_name: string | null;
  reply_to: string | null;
  reply_to_name: string | null;
  headers: JsonColumn;
  provider: string | null;
  priority: Defaulted<number>;
  max_retries: Defaulted<number>;
  tags: Defaulted<string[]>;
  tracked: Defaulted<boolean>;
  rate_limit: number | null;
  scheduled_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  total: Int8;
  duplicates: Int8;
  invalid: Int8;
  excluded: Int8;
  dispatched: Int8;
  sent: Int8;
  failed: Int8;
  suppressed: Int8;
  cancelled: Int8;
  delivered: Int8;
  bounced: Int8;
  complained: Int8;
  opened: Int8;
  clicked: Int8;
  unsubscribed: Int8;
  next_seq: Int8;
  dispatch_credit: Defaulted<number>;
  credit_at: NullableTimestamp;
  window_start: NullableTimestamp;
  window_count: Int8;
  previous_window_count: Int8;
  /** 013: the recurring schedule that made it. */
  schedule_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** `email_campaign_schedules` (013): a cron schedule that starts a copy of a draft on each occurrence. */
export interface EmailCampaignScheduleTable {
  id: Generated<string>;
  name: string;
  blueprint_id: string;
  cron: string;
  timezone: Defaulted<string>;
  next_run_at: ColumnType<Date, Date, Date>;
  last_run_at: NullableTimestamp;
  last_campaign_id: string | null;
  runs: Int8;
  created_at: Timestamp;
}

/** `email_campaign_recipients` (011): a campaign's audience, in upload order. */
export interface EmailCampaignRecipientTable {
  campaign_id: string;
  seq: ColumnType<string | number | bigint, never, never>;
  email: string;
  name: string | null;
  template_data: JsonColumn;
  suppressed: Defaulted<boolean>;
  /** 014: an untracked campaign's recipient, parked or ended (see CampaignOutcome). */
  outcome: ColumnType<string | null, never, string | null>;
}

/** `email_throughput_minutes` (015): the fleet's emails sent and failed, one row per minute. */
export interface EmailThroughputMinuteTable {
  minute: ColumnType<Date, Date, Date>;
  sent: Int8;
  failed: Int8;
}

export interface Database {
  email_campaigns: EmailCampaignTable;
  email_campaign_schedules: EmailCampaignScheduleTable;
  email_campaign_recipients: EmailCampaignRecipientTable;
  email_suppressions: EmailSuppressionTable;
  email_unattributed_bounces: EmailUnattributedBounceTable;
  email_jobs: EmailJobTable;
  email_templates: EmailTemplateTable;
  email_tracking: EmailTrackingTable;
  email_queue: EmailQueueTable;
  email_idempotency_keys: EmailIdempotencyKeyTable;
  email_throughput_minutes: EmailThroughputMinuteTable;
}

type Nullability<T> = { [K in keyof Selectable<T>]-?: null extends Selectable<T>[K] ? "null" : "not null" };

/**
 * The table interfaces above, as values: the compiler holds these to the interfaces (every column,
 * its nullability), and a test holds the migrated database to these.
 */
export const SCHEMA_COLUMNS: { [T in keyof Database]: Nullability<Database[T]> } = {
  email_jobs: {
    id: "not null",
    job_type: "not null",
    recipient_email: "not null",
    subject: "null",
    template_id: "null",
    template_data: "null",
    status: "not null",
    priority: "not null",
    retry_count: "not null",
    max_retries: "not null",
    scheduled_at: "null",
    created_at: "not null",
    updated_at: "not null",
    recipient_name: "null",
    from_email: "null",
    from_name: "null",
    reply_to: "null",
    reply_to_name: "null",
    headers: "null",
    html_body: "null",
    text_body: "null",
    attachments: "null",
    provider: "null",
    idempotency_key: "null",
    metadata: "null",
    error_message: "null",
    locked_until: "null",
    sent_at: "null",
    enqueued_at: "null",
    next_attempt_at: "null",
    cc: "null",
    bcc: "null",
    tags: "not null",
    sandbox: "not null",
    campaign_id: "null",
    batch_id: "null",
  },
  email_campaigns: {
    id: "not null",
    name: "not null",
    job_type: "not null",
    status: "not null",
    template_id: "not null",
    subject: "null",
    template_data: "not null",
    from_email: "null",
    from_name: "null",
    reply_to: "null",
    reply_to_name: "null",
    headers: "null",
    provider: "null",
    priority: "not null",
    max_retries: "not null",
    tags: "not null",
    tracked: "not null",
    rate_limit: "null",
    scheduled_at: "null",
    created_at: "not null",
    updated_at: "not null",
    started_at: "null",
    finished_at: "null",
    total: "not null",
    duplicates: "not null",
    invalid: "not null",
    excluded: "not null",
    dispatched: "not null",
    sent: "not null",
    failed: "not null",
    suppressed: "not null",
    cancelled: "not null",
    delivered: "not null",
    bounced: "not null",
    complained: "not null",
    opened: "not null",
    clicked: "not null",
    unsubscribed: "not null",
    next_seq: "not null",
    dispatch_credit: "not null",
    credit_at: "null",
    window_start: "null",
    window_count: "not null",
    previous_window_count: "not null",
    schedule_id: "null",
  },
  email_campaign_schedules: {
    id: "not null",
    name: "not null",
    blueprint_id: "not null",
    cron: "not null",
    timezone: "not null",
    next_run_at: "not null",
    last_run_at: "null",
    last_campaign_id: "null",
    runs: "not null",
    created_at: "not null",
  },
  email_campaign_recipients: {
    campaign_id: "not null",
    seq: "not null",
    email: "not null",
    name: "null",
    template_data: "null",
    suppressed: "not null",
    outcome: "null",
  },
  email_templates: {
    id: "not null",
    name: "not null",
    subject: "null",
    html_template: "null",
    text_template: "null",
    variables: "null",
    is_active: "not null",
    created_at: "not null",
    updated_at: "not null",
  },
  email_tracking: {
    id: "not null",
    job_id: "null",
    provider: "null",
    message_id: "null",
    status: "null",
    sent_at: "null",
    delivered_at: "null",
    opened_at: "null",
    clicked_at: "null",
    error_message: "null",
    created_at: "not null",
    event_id: "null",
    occurred_at: "null",
    machine_open: "null",
  },
  email_queue: {
    id: "not null",
    lane: "not null",
    body: "not null",
    attempt: "not null",
    run_at: "not null",
    locked_until: "null",
    deliveries: "not null",
    dead: "not null",
    reason: "null",
    failed_at: "null",
    created_at: "not null",
  },
  email_suppressions: {
    email: "not null",
    reason: "not null",
    source: "not null",
    details: "null",
    created_at: "not null",
  },
  email_unattributed_bounces: {
    id: "not null",
    reason: "not null",
    details: "null",
    mail_from: "null",
    rcpt_to: "not null",
    remote_address: "null",
    raw: "not null",
    raw_bytes: "not null",
    received_at: "not null",
  },
  email_idempotency_keys: {
    key: "not null",
    job_id: "not null",
    state: "not null",
    fingerprint: "null",
    expires_at: "not null",
  },
  email_throughput_minutes: {
    minute: "not null",
    sent: "not null",
    failed: "not null",
  },
};

/** Serialises a value for a JSONB column (see JsonColumn). */
export function toJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
