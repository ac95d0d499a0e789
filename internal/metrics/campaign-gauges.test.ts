import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { CampaignSummary } from "../store/campaign-repository.ts";
import { refreshCampaignGauges } from "./campaign-gauges.ts";
import { LabelLimiter } from "./label-limiter.ts";
import { createMetrics } from "./metrics.ts";

const zero = {
  total: 0,
  excluded: 0,
  dispatched: 0,
  sent: 0,
  failed: 0,
  suppressed: 0,
  cancelled: 0,
  bounced: 0,
  complained: 0,
  opened: 0,
  clicked: 0,
  unsubscribed: 0,
};

describe("campaign gauges", () => {
  it("count campaigns by type and status, and where the recipients of open ones are, bounding the types", async () => {
    const metrics = createMetrics(new Registry());
    let rows: CampaignSummary[] = [
      {
        ...zero,
        job_type: "newsletter",
        status: "running",
        campaigns: 2,
        total: 100,
        excluded: 2,
        dispatched: 60,
        sent: 50,
        failed: 1,
      },
      { ...zero, job_type: "newsletter", status: "completed", campaigns: 5, total: 900, sent: 900 },
      { ...zero, job_type: "promo", status: "paused", campaigns: 1, total: 10, dispatched: 4, sent: 4 },
    ];
    const source = { summary: async () => rows };
    const jobTypes = new LabelLimiter({ always: [], max: 1 });
    await refreshCampaignGauges(metrics, source, jobTypes);
    const text = await metrics.registry.metrics();
    expect(text).toContain('email_campaigns{type="newsletter",status="running"} 2');
    expect(text).toContain('email_campaigns{type="newsletter",status="completed"} 5');
    // A second type past the limit is "other": clients choose types.
    expect(text).toContain('email_campaigns{type="other",status="paused"} 1');
    expect(text).toContain('email_campaign_recipients{type="newsletter",state="pending"} 38');
    expect(text).toContain('email_campaign_recipients{type="newsletter",state="queued"} 9');
    expect(text).toContain('email_campaign_recipients{type="newsletter",state="suppressed"} 2');
    expect(text).not.toContain('state="sent"} 900');

    rows = [];
    await refreshCampaignGauges(metrics, source, jobTypes);
    expect(await metrics.registry.metrics()).not.toContain('email_campaigns{type="newsletter"');
  });
});
