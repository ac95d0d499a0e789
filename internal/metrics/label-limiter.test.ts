import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { EmailJob } from "../job/email-job.ts";
import { recordQueued } from "../service/queued-metrics.ts";
import { recordOutcome } from "../worker/outcome-metrics.ts";
import { LabelLimiter, OTHER_LABEL } from "./label-limiter.ts";
import { createMetrics } from "./metrics.ts";

describe("LabelLimiter", () => {
  it("keeps configured values, then the first seen up to the limit, then labels the rest other", () => {
    const limiter = new LabelLimiter({ always: ["welcome_email", "receipt"], max: 4 });
    expect(limiter.label("a")).toBe("a");
    expect(limiter.label("b")).toBe("b");
    expect(limiter.label("c")).toBe(OTHER_LABEL);
    expect(limiter.label("a")).toBe("a");
    expect(limiter.label("welcome_email")).toBe("welcome_email");
    expect(limiter.label("receipt")).toBe("receipt");
  });

  it("keeps every configured value even when there are more of them than the limit", () => {
    const limiter = new LabelLimiter({ always: ["x", "y", "z"], max: 2 });
    expect(["x", "y", "z", "new"].map((v) => limiter.label(v))).toEqual(["x", "y", "z", OTHER_LABEL]);
  });

  it("keeps /metrics under 1 MB after 20,000 distinct job types through the real helpers", async () => {
    const metrics = createMetrics(new Registry());
    const jobTypes = new LabelLimiter({ always: ["welcome_email"], max: 100 });
    for (let i = 0; i < 20_000; i++) {
      const type = `type_${i}`;
      recordQueued(metrics, jobTypes, job(type));
      for (const status of ["sent", "retrying", "suppressed"] as const)
        recordOutcome(metrics, jobTypes, {
          status,
          job_type: type,
          lane: "normal",
          provider: "outbox",
          tracked: true,
          duration_ms: 12,
          error_kind: status === "retrying" ? "transient" : undefined,
        });
    }
    const text = await metrics.registry.metrics();
    expect(Buffer.byteLength(text)).toBeLessThan(1024 * 1024);
    expect(text).toContain('email_jobs_tracked_total{job_type="type_0"} 1');
    expect(text).toContain('email_jobs_tracked_total{job_type="type_98"} 1');
    expect(text).not.toContain('job_type="type_99"');
    expect(text).toContain(`email_jobs_tracked_total{job_type="other"} ${20_000 - 99}`);
  });
});

function job(type: string): EmailJob {
  return {
    id: "j",
    type,
    recipient_email: "ada@example.org",
    template_data: {},
    headers: {},
    attachments: [],
    priority: 2,
    tracked: true,
  };
}
