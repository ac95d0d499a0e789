import type { LabelLimiter } from "../metrics/label-limiter.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { JobOutcome } from "./job-processor.ts";

/** Feeds one finished delivery into the metrics; the job type is a client's, so it goes through `jobTypes`. */
export function recordOutcome(metrics: Metrics, jobTypes: LabelLimiter, outcome: JobOutcome): void {
  const jobType = jobTypes.label(outcome.job_type);
  metrics.jobsProcessed.inc({
    status: outcome.status,
    job_type: jobType,
    provider: outcome.provider ?? "none",
  });
  metrics.processingDuration.observe(
    { status: outcome.status, job_type: jobType },
    outcome.duration_ms / 1000,
  );
  if (outcome.status === "suppressed") metrics.suppressed.inc({ job_type: jobType });
  if (outcome.status === "retrying")
    metrics.retries.inc({ job_type: jobType, kind: outcome.error_kind ?? "unknown" });
  if (outcome.schedule_lateness_ms !== undefined)
    metrics.scheduleLateness.observe({ lane: outcome.lane }, outcome.schedule_lateness_ms / 1000);
}
