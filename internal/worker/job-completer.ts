import { kindOf } from "../errors/error-kind.ts";
import type { EmailJob } from "../job/email-job.ts";
import { deliveryKeyOf } from "../job/idempotency-keys.ts";
import { encodeNextAttempt } from "../job/queue-message.ts";
import type { IdempotencyStore } from "../queue/idempotency.ts";
import type { Delivery, JobQueue } from "../queue/queue.ts";
import type { CampaignOutcome, RecipientOutcome } from "../store/campaign-outcome-repository.ts";
import type { JobRepository } from "../store/job-repository.ts";
import type { TrackingRepository } from "../store/tracking-repository.ts";

/** How one delivery ends: decided by the processor, carried out by the JobCompleter. */
export type JobEnding =
  | { kind: "sent"; job: EmailJob; provider: string; messageId: string }
  /**
   * Nothing left to do: a duplicate idempotency key, or a job that already finished. `alreadySent`:
   * the job itself was sent by an earlier delivery (an untracked campaign's recipient is recorded
   * as sent, should that delivery not have lived to record it).
   */
  | { kind: "skipped"; job: EmailJob | undefined; reason: string; alreadySent?: boolean }
  /** A job of a cancelled campaign: dropped unsent. */
  | { kind: "cancelled"; job: EmailJob; reason: string }
  | { kind: "suppressed"; job: EmailJob; reason: string }
  /** A sandbox job, rendered and composed by `provider`'s rules and not sent. */
  | { kind: "sandboxed"; job: EmailJob; provider: string }
  /** A failed attempt, tried again at `runAt` (see failure-decision.ts). */
  | { kind: "retry"; job: EmailJob; runAt: Date; attempt: number; usesAttempt: boolean; reason: string }
  /**
   * Not this job's time, or not this worker's: scheduled later, or claimed by another worker. The
   * same attempt comes back at `runAt` carrying `body`; a claim this worker took is released first.
   */
  | { kind: "defer"; body: string; runAt: Date; reason: string; releaseClaimOf?: string | undefined }
  /** A job of a paused campaign: put aside unpublished until the campaign resumes. */
  | { kind: "parked"; job: EmailJob; reason: string }
  /** Given up (permanent error, attempts used up): failed, and dead-lettered with the reason. */
  | { kind: "fail"; job: EmailJob; attempt: number; reason: string }
  /** Not a job at all (malformed, or a reference to a row that does not exist): dead-lettered. */
  | { kind: "dead_letter"; reason: string };

interface JobCompleterOptions {
  queue: JobQueue;
  jobs: JobRepository;
  tracking: TrackingRepository;
  idempotency: IdempotencyStore;
  /** Where an untracked campaign's recipients' outcomes are recorded. */
  campaignOutcomes: { record(outcome: RecipientOutcome): Promise<boolean> };
  /**
   * How long a tracked job's claim lasts (the queue's visibility timeout). While the database is
   * unavailable, writing a tracked job's ending is retried for half of it: a job sent just before the
   * master went away is then still marked sent if it returns in time, instead of being claimed and
   * sent again once its claim has run out.
   */
  claimLeaseMs: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Finishes deliveries: writes what an ending means to the store (a tracked job's row and events, a
 * fast job's idempotency key), then does the one queue operation that ends the delivery. Nothing
 * else in the worker calls `ack`, `retry` or `deadLetter`, or marks a job, so every delivery ends
 * exactly once. If the store write fails, the queue operation is not made: the message comes back
 * after the visibility timeout, as after a crash — unless the database was only unavailable for a
 * while (see claimLeaseMs).
 */
export class JobCompleter {
  readonly #queue: JobQueue;
  readonly #jobs: JobRepository;
  readonly #tracking: TrackingRepository;
  readonly #idempotency: IdempotencyStore;
  readonly #campaignOutcomes: JobCompleterOptions["campaignOutcomes"];
  readonly #retryWindowMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: JobCompleterOptions) {
    this.#queue = options.queue;
    this.#jobs = options.jobs;
    this.#tracking = options.tracking;
    this.#idempotency = options.idempotency;
    this.#campaignOutcomes = options.campaignOutcomes;
    this.#retryWindowMs = options.claimLeaseMs / 2;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async finish(delivery: Delivery, ending: JobEnding): Promise<void> {
    const job = "job" in ending ? ending.job : undefined;
    if (job?.tracked || job?.campaign_id !== undefined) {
      const deadline = Date.now() + this.#retryWindowMs;
      for (let wait = 250; ; wait = Math.min(wait * 2, 2_000)) {
        try {
          return await this.#finish(delivery, ending);
        } catch (error) {
          // A sent job's ending is retried whatever failed (a statement timeout on a saturated
          // database is no less passing): left unwritten, its message comes back once the claim
          // has run out and the job is claimed and sent again.
          const passing = ending.kind === "sent" || kindOf(error) === "unavailable";
          if (!passing || Date.now() + wait > deadline) throw error;
          await this.#sleep(wait);
        }
      }
    }
    return this.#finish(delivery, ending);
  }

  async #finish(delivery: Delivery, ending: JobEnding): Promise<void> {
    if (ending.kind === "sent" && !ending.job.tracked) {
      // Before anything else: should this delivery die now, its redelivery sends nothing.
      const key = deliveryKeyOf(ending.job);
      if (key !== undefined) await this.#idempotency.markSent(key, ending.job.id);
    }
    const campaignOutcome = campaignOutcomeOf(ending);
    if (campaignOutcome !== undefined) {
      const { job } = campaignOutcome;
      const recorded = await this.#campaignOutcomes.record({
        campaign_id: job.campaign_id as string,
        recipient: job.campaign_recipient as number,
        outcome: campaignOutcome.outcome,
      });
      if (!recorded)
        // A park refused: the campaign was resumed since the job was looked at. It runs now.
        return this.#queue.retry(delivery, {
          body: delivery.body,
          run_at: new Date(),
          attempt: delivery.attempt,
          error: "campaign resumed: sent after all",
        });
    }
    switch (ending.kind) {
      case "sent": {
        const { job } = ending;
        if (job.tracked) await this.#jobs.markSentWithEvent(job.id, ending.provider, ending.messageId);
        return this.#queue.ack(delivery);
      }
      case "skipped":
      case "cancelled":
        return this.#queue.ack(delivery);
      case "suppressed": {
        const { job, reason } = ending;
        if (job.tracked) {
          await this.#jobs.markSuppressed(job.id, reason);
          await this.#tracking.append({ job_id: job.id, status: "suppressed", error_message: reason });
        }
        return this.#queue.ack(delivery);
      }
      case "sandboxed": {
        const { job, provider } = ending;
        if (job.tracked) {
          await this.#jobs.markSandboxed(job.id, provider);
          await this.#tracking.append({ job_id: job.id, provider, status: "sandboxed" });
        }
        return this.#queue.ack(delivery);
      }
      case "retry": {
        const { job, runAt, attempt, reason } = ending;
        if (job.tracked) await this.#jobs.markRetrying(job.id, reason, runAt, ending.usesAttempt);
        return this.#queue.retry(delivery, {
          body: encodeNextAttempt(job),
          run_at: runAt,
          attempt,
          error: reason,
        });
      }
      case "defer":
        if (ending.releaseClaimOf !== undefined) await this.#jobs.releaseClaim(ending.releaseClaimOf);
        return this.#queue.retry(delivery, {
          body: ending.body,
          run_at: ending.runAt,
          attempt: delivery.attempt,
          error: ending.reason,
        });
      case "parked":
        if (ending.job.tracked && !(await this.#jobs.park(ending.job.id)))
          // Resumed since the claim was refused (or the job ended meanwhile): the message goes
          // round once more, to be claimed, or dropped as finished.
          return this.#queue.retry(delivery, {
            body: delivery.body,
            run_at: new Date(),
            attempt: delivery.attempt,
            error: "campaign running again: not parked",
          });
        return this.#queue.ack(delivery);
      case "fail": {
        const { job, attempt, reason } = ending;
        if (job.tracked) {
          await this.#jobs.markFailed(job.id, reason);
          await this.#tracking.append({ job_id: job.id, status: "failed", error_message: reason });
        }
        return this.#queue.deadLetter({ ...delivery, attempt }, reason);
      }
      case "dead_letter":
        return this.#queue.deadLetter(delivery, ending.reason);
    }
  }
}

/** An untracked campaign's job ending as its recipient is recorded: parked, or how it ended. */
function campaignOutcomeOf(ending: JobEnding): { job: EmailJob; outcome: CampaignOutcome } | undefined {
  if (!("job" in ending) || ending.job?.campaign_id === undefined || ending.job.tracked) return undefined;
  const { job } = ending;
  switch (ending.kind) {
    case "sent":
      return { job, outcome: "sent" };
    case "skipped":
      return ending.alreadySent ? { job, outcome: "sent" } : undefined;
    case "suppressed":
      return { job, outcome: "suppressed" };
    case "fail":
      return { job, outcome: "failed" };
    case "parked":
      return { job, outcome: "parked" };
    case "cancelled":
      return { job, outcome: "cancelled" };
    default:
      return undefined;
  }
}
