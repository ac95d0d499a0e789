import { laneOf } from "../job/priority.ts";
import type { CampaignRecord } from "../store/campaign-repository.ts";
import type { CampaignScheduleRecord } from "../store/campaign-schedule-repository.ts";

/** A campaign's counts: what its audience holds and how each recipient's email ended so far. */
export interface CampaignCounts {
  /** Recipients in the audience (duplicates merged, invalid rows left out). */
  total: number;
  /** Not yet on the queue. */
  pending: number;
  /** On the queue or being sent. */
  queued: number;
  sent: number;
  failed: number;
  /** Not sent: on the suppression list when uploaded or when its turn came. */
  suppressed: number;
  /** Not sent: the campaign was cancelled before their turn. */
  cancelled: number;
  delivered: number;
  bounced: number;
  complained: number;
  opened: number;
  clicked: number;
  unsubscribed: number;
  /** Upload rows merged into an earlier row with the same address. */
  duplicates: number;
  /** Upload rows refused (each reported with its line when uploaded). */
  invalid: number;
}

/** A campaign as the API shows it. */
export interface CampaignView {
  id: string;
  name: string;
  type: string;
  status: string;
  template_id: string;
  subject: string | null;
  priority: string;
  tracked: boolean;
  tags: string[];
  rate_limit: number | null;
  scheduled_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  counts: CampaignCounts;
  /** Emails finished per second over the last minute. */
  rate: number;
  /** When the rest should be finished at the current rate; null when not running or no rate yet. */
  eta: Date | null;
}

const WINDOW_S = 60;

/**
 * Jobs finished per second over the last minute, from the two per-minute counts the database keeps:
 * the part of last minute's count still inside the window, plus this minute's. In a campaign's
 * first minute the window is only as long as the campaign has run.
 */
export function finishRate(record: CampaignRecord, now: number): number {
  if (record.window_start === null) return 0;
  let elapsed = (now - record.window_start.getTime()) / 1000;
  let previous = record.previous_window_count;
  let current = record.window_count;
  if (elapsed >= 2 * WINDOW_S) return 0;
  if (elapsed >= WINDOW_S) {
    previous = current;
    current = 0;
    elapsed -= WINDOW_S;
  }
  const finished = previous * ((WINDOW_S - elapsed) / WINDOW_S) + current;
  const ranFor = record.started_at === null ? WINDOW_S : (now - record.started_at.getTime()) / 1000;
  return finished / Math.min(Math.max(ranFor, 1), WINDOW_S);
}

export function campaignCounts(record: CampaignRecord): CampaignCounts {
  const ended = record.status === "completed" || record.status === "cancelled";
  const undispatched = Math.max(record.total - record.excluded - record.dispatched, 0);
  return {
    total: record.total,
    pending: ended ? 0 : undispatched,
    queued: Math.max(
      record.dispatched - record.sent - record.failed - record.suppressed - record.cancelled,
      0,
    ),
    sent: record.sent,
    failed: record.failed,
    suppressed: record.excluded + record.suppressed,
    cancelled: record.cancelled + (record.status === "cancelled" ? undispatched : 0),
    delivered: record.delivered,
    bounced: record.bounced,
    complained: record.complained,
    opened: record.opened,
    clicked: record.clicked,
    unsubscribed: record.unsubscribed,
    duplicates: record.duplicates,
    invalid: record.invalid,
  };
}

export function campaignView(record: CampaignRecord, now = Date.now()): CampaignView {
  const counts = campaignCounts(record);
  const rate = finishRate(record, now);
  const remaining = counts.pending + counts.queued;
  return {
    id: record.id,
    name: record.name,
    type: record.job_type,
    status: record.status,
    template_id: record.template_id,
    subject: record.subject,
    priority: laneOf(record.priority),
    tracked: record.tracked,
    tags: record.tags,
    rate_limit: record.rate_limit,
    scheduled_at: record.scheduled_at,
    created_at: record.created_at,
    started_at: record.started_at,
    finished_at: record.finished_at,
    counts,
    rate: Math.round(rate * 100) / 100,
    eta: record.status === "running" && rate > 0 ? new Date(now + (remaining / rate) * 1000) : null,
  };
}

/** A recurring schedule as the API shows it. */
export interface CampaignScheduleView {
  id: string;
  name: string;
  /** The draft each run copies. */
  campaign_id: string;
  cron: string;
  timezone: string;
  next_run_at: Date;
  last_run_at: Date | null;
  /** The campaign the last run started. */
  last_campaign_id: string | null;
  runs: number;
  created_at: Date;
}

export function scheduleView(record: CampaignScheduleRecord): CampaignScheduleView {
  return {
    id: record.id,
    name: record.name,
    campaign_id: record.blueprint_id,
    cron: record.cron,
    timezone: record.timezone,
    next_run_at: record.next_run_at,
    last_run_at: record.last_run_at,
    last_campaign_id: record.last_campaign_id,
    runs: record.runs,
    created_at: record.created_at,
  };
}
