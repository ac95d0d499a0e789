/**
 * A tracked job's life: pending → processing → sent; processing → retrying → processing …;
 * processing → failed (permanent error or attempts exhausted); pending/retrying → cancelled;
 * processing → suppressed (recipient on the suppression list); processing → sandboxed (a sandbox
 * job, composed and not sent).
 */
export const JOB_STATUSES = [
  "pending",
  "processing",
  "sent",
  "retrying",
  "failed",
  "cancelled",
  "suppressed",
  "sandboxed",
] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

/** States a worker may claim a job from. */
export const CLAIMABLE_STATUSES: readonly JobStatus[] = ["pending", "retrying"];

/** States from which a job can still be cancelled: nothing has been handed to a provider. */
export const CANCELLABLE_STATUSES: readonly JobStatus[] = ["pending", "retrying"];

export function isJobStatus(value: string): value is JobStatus {
  return (JOB_STATUSES as readonly string[]).includes(value);
}
