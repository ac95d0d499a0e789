import { describe, expect, it } from "vitest";
import type { CampaignRecord } from "../store/campaign-repository.ts";
import { campaignCounts, campaignView, finishRate } from "./campaign-view.ts";

const NOW = Date.parse("2026-12-03T12:00:00Z");
const ago = (seconds: number) => new Date(NOW - seconds * 1000);

function record(fields: Partial<CampaignRecord> = {}): CampaignRecord {
  return {
    id: "0b7c2a36-5d8c-4b0e-9b43-0f6a7e9d2c11",
    name: "Spring",
    job_type: "newsletter",
    status: "running",
    template_id: "welcome",
    subject: null,
    template_data: {},
    from_email: null,
    from_name: null,
    reply_to: null,
    reply_to_name: null,
    headers: null,
    provider: null,
    priority: -1,
    max_retries: 3,
    tags: [],
    tracked: true,
    rate_limit: null,
    scheduled_at: null,
    created_at: ago(3_600),
    updated_at: ago(1),
    started_at: ago(600),
    finished_at: null,
    total: 0,
    duplicates: 0,
    invalid: 0,
    excluded: 0,
    dispatched: 0,
    sent: 0,
    failed: 0,
    suppressed: 0,
    cancelled: 0,
    delivered: 0,
    bounced: 0,
    complained: 0,
    opened: 0,
    clicked: 0,
    unsubscribed: 0,
    next_seq: 0,
    dispatch_credit: 0,
    credit_at: null,
    window_start: null,
    window_count: 0,
    previous_window_count: 0,
    schedule_id: null,
    ...fields,
  };
}

describe("a campaign's view", () => {
  it("splits the audience into pending, queued and ended, suppressed at upload included", () => {
    const counts = campaignCounts(
      record({ total: 100, excluded: 5, dispatched: 60, sent: 40, failed: 3, suppressed: 2, cancelled: 1 }),
    );
    expect(counts).toMatchObject({
      total: 100,
      pending: 35,
      queued: 14,
      sent: 40,
      failed: 3,
      suppressed: 7,
      cancelled: 1,
    });
  });

  it("counts what a cancelled campaign never dispatched as cancelled, and nothing as pending", () => {
    const counts = campaignCounts(
      record({ status: "cancelled", total: 100, excluded: 5, dispatched: 60, sent: 55, cancelled: 5 }),
    );
    expect(counts).toMatchObject({ pending: 0, queued: 0, cancelled: 40 });
  });

  it("rates the last minute from this minute's count and the part of the last one still inside it", () => {
    // 30 s into this minute: half of the last minute's 600 still counts, plus this minute's 300.
    expect(
      finishRate(record({ window_start: ago(30), window_count: 300, previous_window_count: 600 }), NOW),
    ).toBe(10);
    // The minute that was current has ended: it becomes the previous one, 15 s of it still inside.
    expect(finishRate(record({ window_start: ago(75), window_count: 240 }), NOW)).toBe(3);
    expect(finishRate(record({ window_start: ago(130), window_count: 240 }), NOW)).toBe(0);
    expect(finishRate(record({ window_start: null }), NOW)).toBe(0);
  });

  it("rates a campaign in its first minute over the time it has run", () => {
    const fresh = record({ started_at: ago(10), window_start: ago(10), window_count: 50 });
    expect(finishRate(fresh, NOW)).toBe(5);
  });

  it("estimates when a running campaign ends at its current rate, and gives no estimate otherwise", () => {
    const fields = {
      total: 1_000,
      dispatched: 400,
      sent: 300,
      window_start: ago(30),
      window_count: 300,
      previous_window_count: 600,
    };
    const view = campaignView(record(fields), NOW);
    expect(view.rate).toBe(10);
    // 600 pending and 100 queued at 10 a second.
    expect(view.eta?.getTime()).toBe(NOW + 70_000);
    expect(campaignView(record({ ...fields, status: "paused" }), NOW).eta).toBeNull();
    expect(view.priority).toBe("low");
  });
});
