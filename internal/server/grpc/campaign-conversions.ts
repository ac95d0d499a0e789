import type { UploadResult } from "../../campaign/campaign-service.ts";
import type { CampaignScheduleView, CampaignView } from "../../campaign/campaign-view.ts";
import {
  Priority,
  type Campaign as ProtoCampaign,
  type CampaignRecipient as ProtoCampaignRecipient,
  type CampaignSchedule as ProtoCampaignSchedule,
  type CampaignSpec as ProtoCampaignSpec,
  type RecipientUpload as ProtoRecipientUpload,
} from "../../gen/emailworker/v1/email_worker.ts";
import { campaignStatusToProto, priorityFromWord } from "../../proto/enums.ts";

import { jobInputFromProto } from "./conversions.ts";

/**
 * The campaign request object a gRPC CampaignSpec stands for, for the validation every edge uses.
 * Its job fields convert as an EmailJob's would; empty means absent (proto3).
 */
export function campaignInputFromProto(spec: ProtoCampaignSpec | undefined): Record<string, unknown> {
  if (!spec) return {};
  const { recipient_email: _, ...job } = jobInputFromProto({
    id: "",
    type: spec.type,
    recipient_email: "",
    recipient_name: "",
    template_id: spec.template_id,
    template_data: spec.template_data,
    subject: spec.subject,
    html: spec.html,
    text: spec.text,
    sender: spec.sender,
    reply_to: spec.reply_to,
    headers: spec.headers,
    attachments: [],
    priority: spec.priority === Priority.PRIORITY_UNSPECIFIED ? Priority.PRIORITY_LOW : spec.priority,
    scheduled_at: spec.scheduled_at,
    tracked: false,
    idempotency_key: "",
    provider: spec.provider,
    max_retries: spec.max_retries,
    metadata: undefined,
    cc: [],
    bcc: [],
    tags: spec.tags,
    sandbox: false,
    batch_id: "",
  });
  return {
    ...job,
    ...(spec.name !== "" && { name: spec.name }),
    ...(spec.rate_limit !== 0 && { rate_limit: spec.rate_limit }),
    ...(spec.tracked !== undefined && { tracked: spec.tracked }),
  };
}

export function recipientInputFromProto(recipient: ProtoCampaignRecipient): Record<string, unknown> {
  return {
    email: recipient.email,
    ...(recipient.name !== "" && { name: recipient.name }),
    ...(recipient.template_data && { template_data: recipient.template_data }),
  };
}

export function scheduleToProto(schedule: CampaignScheduleView): ProtoCampaignSchedule {
  return {
    id: schedule.id,
    name: schedule.name,
    campaign_id: schedule.campaign_id,
    cron: schedule.cron,
    timezone: schedule.timezone,
    next_run_at: schedule.next_run_at,
    last_run_at: schedule.last_run_at ?? undefined,
    last_campaign_id: schedule.last_campaign_id ?? "",
    runs: schedule.runs,
    created_at: schedule.created_at,
  };
}

export function uploadToProto(result: UploadResult): ProtoRecipientUpload {
  return { ...result, errors: result.errors.map((e) => ({ line: e.line, reason: e.reason })) };
}

export function campaignToProto(view: CampaignView): ProtoCampaign {
  return {
    id: view.id,
    name: view.name,
    type: view.type,
    status: campaignStatusToProto(view.status),
    template_id: view.template_id,
    subject: view.subject ?? "",
    priority: priorityFromWord(view.priority),
    tracked: view.tracked,
    tags: view.tags,
    rate_limit: view.rate_limit ?? 0,
    scheduled_at: view.scheduled_at ?? undefined,
    created_at: view.created_at,
    started_at: view.started_at ?? undefined,
    finished_at: view.finished_at ?? undefined,
    counts: view.counts,
    rate: view.rate,
    eta: view.eta ?? undefined,
  };
}
