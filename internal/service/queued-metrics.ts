import type { EmailJob } from "../job/email-job.ts";
import { laneOf } from "../job/priority.ts";
import type { LabelLimiter } from "../metrics/label-limiter.ts";
import type { Metrics } from "../metrics/metrics.ts";

/**
 * Feeds one accepted job into the metrics: every job by lane, tracked ones also by type (a client's
 * string, so it goes through `jobTypes`).
 */
export function recordQueued(metrics: Metrics, jobTypes: LabelLimiter, job: EmailJob): void {
  metrics.jobsQueued.inc({ priority: laneOf(job.priority), tracked: String(job.tracked) });
  if (job.tracked) metrics.jobsTracked.inc({ job_type: jobTypes.label(job.type) });
}
