import type { EmailJob } from "./email-job.ts";

/**
 * Idempotency keys the service derives itself. A client's `idempotency_key` may not start with
 * these prefixes, so it can never take (and so block) a key the service relies on.
 */
export const DERIVED_KEY_PREFIXES = ["job-id:", "campaign:"] as const;

/** The key a fast-path job whose id the client chose is held to: a second request with it sends nothing. */
export function jobIdKey(id: string): string {
  return `job-id:${id}`;
}

/**
 * The key that keeps a job from being sent twice in the worker: its own `idempotency_key`, or, for
 * an untracked campaign's job, its recipient's place in the campaign (a redelivered or republished
 * job for that recipient is then a duplicate).
 */
export function deliveryKeyOf(job: EmailJob): string | undefined {
  if (job.idempotency_key !== undefined) return job.idempotency_key;
  if (job.campaign_id !== undefined) return `campaign:${job.campaign_id}:${job.campaign_recipient}`;
  return undefined;
}
