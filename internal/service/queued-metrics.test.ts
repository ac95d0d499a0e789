import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { EmailJob } from "../job/email-job.ts";
import { LabelLimiter } from "../metrics/label-limiter.ts";
import { createMetrics } from "../metrics/metrics.ts";
import { recordQueued } from "./queued-metrics.ts";

const job = (priority: number, tracked: boolean): EmailJob => ({
  id: "j",
  type: "welcome_email",
  recipient_email: "ada@example.org",
  template_data: {},
  headers: {},
  attachments: [],
  priority,
  tracked,
});

describe("recordQueued", () => {
  it("counts every job by lane and tracked ones by type as well", async () => {
    const metrics = createMetrics(new Registry());
    const jobTypes = new LabelLimiter({ always: [], max: 100 });
    recordQueued(metrics, jobTypes, job(2, true));
    recordQueued(metrics, jobTypes, job(0, false));
    const queued = (await metrics.jobsQueued.get()).values.map((v) => [v.labels, v.value]);
    expect(queued).toEqual([
      [{ priority: "critical", tracked: "true" }, 1],
      [{ priority: "normal", tracked: "false" }, 1],
    ]);
    const tracked = (await metrics.jobsTracked.get()).values.map((v) => [v.labels, v.value]);
    expect(tracked).toEqual([[{ job_type: "welcome_email" }, 1]]);
  });
});
