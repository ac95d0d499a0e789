import type { CampaignSummary } from "../store/campaign-repository.ts";
import type { LabelLimiter } from "./label-limiter.ts";
import type { Metrics } from "./metrics.ts";

const ENDED = new Set(["completed", "cancelled"]);

/**
 * Copies the campaigns' state into the gauges (run periodically): campaigns per job type and status,
 * and where the recipients of campaigns not yet ended are. Job types are the clients' strings, so
 * they go through `jobTypes`; campaign ids never label anything.
 */
export async function refreshCampaignGauges(
  metrics: Metrics,
  source: { summary(): Promise<CampaignSummary[]> },
  jobTypes: LabelLimiter,
): Promise<void> {
  const rows = await source.summary();
  const campaigns = new Map<string, number>();
  const recipients = new Map<string, number>();
  const add = (into: Map<string, number>, key: string, value: number) =>
    into.set(key, (into.get(key) ?? 0) + value);
  for (const row of rows) {
    const type = jobTypes.label(row.job_type);
    add(campaigns, `${type}\u0000${row.status}`, row.campaigns);
    if (ENDED.has(row.status)) continue;
    const states: Record<string, number> = {
      pending: row.total - row.excluded - row.dispatched,
      queued: row.dispatched - row.sent - row.failed - row.suppressed - row.cancelled,
      sent: row.sent,
      failed: row.failed,
      suppressed: row.excluded + row.suppressed,
      cancelled: row.cancelled,
      bounced: row.bounced,
      complained: row.complained,
      opened: row.opened,
      clicked: row.clicked,
      unsubscribed: row.unsubscribed,
    };
    for (const [state, value] of Object.entries(states)) add(recipients, `${type}\u0000${state}`, value);
  }
  // Reset first: a type whose last campaign ended must not keep its old figures.
  metrics.campaigns.reset();
  metrics.campaignRecipients.reset();
  for (const [key, value] of campaigns) {
    const [type, status] = key.split("\u0000") as [string, string];
    metrics.campaigns.set({ type, status }, value);
  }
  for (const [key, value] of recipients) {
    const [type, state] = key.split("\u0000") as [string, string];
    metrics.campaignRecipients.set({ type, state }, value);
  }
}
