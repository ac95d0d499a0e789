import type { Logger } from "pino";
import { KindedError, kindOf } from "../errors/error-kind.ts";
import { responseTo } from "../errors/error-responses.ts";
import type { EmailJob } from "../job/email-job.ts";
import type { JobValidationError } from "../job/job-validation-error.ts";
import { parseJob } from "../job/parse-job.ts";
import { laneOf } from "../job/priority.ts";
import { encodeJob, encodeTrackedReference } from "../job/queue-message.ts";
import { IDEMPOTENCY_TTL_MS, type IdempotencyStore } from "../queue/idempotency.ts";
import type { DeadLetter, JobQueue, QueueStats } from "../queue/queue.ts";
import { jobToRow } from "../store/job-mapping.ts";
import type {
  CancelOutcome,
  EmailJobRecord,
  JobListFilter,
  JobPage,
  JobRepository,
} from "../store/job-repository.ts";
import type {
  SuppressionList,
  SuppressionPage,
  SuppressionReason,
  SuppressionRecord,
} from "../store/suppression-repository.ts";
import type { TrackingRecord, TrackingRepository } from "../store/tracking-repository.ts";
import { refuseOversizedInlineTemplate } from "../template/template-size.ts";
import type { IntakeCheck } from "./intake-check.ts";
import { requestFingerprint } from "./request-fingerprint.ts";

/**
 * The idempotency key intake reserves for a job: its own `idempotency_key`, or, for a fast-path job
 * whose id the client chose, that id (a tracked job's id is its row's primary key, which already
 * refuses a second one). Either way a retried request sends nothing new within the key's lifetime.
 */
function intakeKeyOf(input: unknown, job: EmailJob): string | undefined {
  if (job.idempotency_key !== undefined) return job.idempotency_key;
  if (job.tracked || (input as { id?: unknown }).id === undefined) return undefined;
  return `job-id:${job.id}`;
}

interface EmailServiceOptions {
  queue: JobQueue;
  jobs: JobRepository;
  tracking: TrackingRepository;
  idempotency: IdempotencyStore;
  suppressions: SuppressionList;
  defaultMaxRetries: number;
  /** Largest inline template source (email.template_max_bytes); unset, not checked here. */
  maxTemplateBytes?: number;
  /** Refuses what a worker would fail (template, provider); unset, jobs are checked only when sent. */
  check?: IntakeCheck;
  logger: Logger;
  /** Told of each accepted job (metrics). */
  onQueued?: (job: EmailJob) => void;
}

/** What intake answers for one job it accepted. */
interface AcceptedJob {
  job_id: string;
  tracked: boolean;
  /** The idempotency key was already used: `job_id` is the first job's, and nothing new was queued. */
  duplicate: boolean;
  scheduled_at: Date | undefined;
}

type BatchItemResult = { ok: true; result: AcceptedJob } | { ok: false; error: JobValidationError | Error };

/**
 * A server fault (a 5xx kind: the database or queue unreachable, a bug) part-way through a batch.
 * Items are not all validated first and then queued: a conflict or an outage shows only when an
 * item is stored or published, so a pre-check could not make a batch all-or-nothing anyway. Items
 * are queued in order instead and the first fault stops the batch: `results` are the items before
 * it, each queued or refused on its own, and nothing from index `results.length` on was queued, so
 * a client resends exactly those.
 */
export class BatchInterruptedError extends KindedError {
  override readonly name = "BatchInterruptedError";
  readonly results: readonly BatchItemResult[];

  constructor(cause: unknown, results: readonly BatchItemResult[]) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(kindOf(cause), `batch stopped at item ${results.length}: ${(cause as Error | null)?.message}`, {
      ...(typeof code === "string" && { code }),
      cause,
    });
    this.results = results;
  }
}

interface JobStatusView {
  job: EmailJobRecord;
  events: TrackingRecord[];
}

/**
 * The use cases behind the API and the CLI: accept a job on the fast path (straight onto the queue)
 * or the tracked path (row on the master first, then a message carrying its id), look jobs up,
 * cancel them. Servers stay thin and call this.
 */
export class EmailService {
  readonly #options: EmailServiceOptions;

  constructor(options: EmailServiceOptions) {
    this.#options = options;
  }

  /** Validates and enqueues one job; throws JobValidationError naming each bad field. */
  async send(input: unknown): Promise<AcceptedJob> {
    const job = parseJob(input);
    if (this.#options.maxTemplateBytes !== undefined)
      refuseOversizedInlineTemplate(job, this.#options.maxTemplateBytes);
    await this.#options.check?.(job);
    await this.#refuseTrackedId(input, job);
    if (job.max_retries === undefined) job.max_retries = this.#options.defaultMaxRetries;
    const key = intakeKeyOf(input, job);
    if (key !== undefined) {
      const fingerprint = requestFingerprint(input);
      const holder = await this.#options.idempotency.reserve(key, job.id, IDEMPOTENCY_TTL_MS, fingerprint);
      if (!holder.created) {
        if (holder.fingerprint !== undefined && holder.fingerprint !== fingerprint)
          throw new KindedError(
            "conflict",
            job.idempotency_key !== undefined
              ? `idempotency key "${job.idempotency_key}" was used for job ${holder.job_id} with a different request`
              : `job id ${holder.job_id} was used for a different request`,
            { code: "idempotency_key_reused" },
          );
        return {
          job_id: holder.job_id,
          tracked: job.tracked,
          duplicate: true,
          scheduled_at: job.scheduled_at,
        };
      }
    }
    try {
      if (job.tracked) await this.#enqueueTracked(job);
      else
        await this.#options.queue.publish([
          { body: encodeJob(job), lane: laneOf(job.priority), run_at: job.scheduled_at },
        ]);
    } catch (error) {
      // Nothing was queued (or, tracked, the row was not written): the key must not block a retry.
      if (key !== undefined && !job.tracked)
        await this.#options.idempotency.release(key, job.id).catch(() => {});
      throw error;
    }
    this.#options.onQueued?.(job);
    return { job_id: job.id, tracked: job.tracked, duplicate: false, scheduled_at: job.scheduled_at };
  }

  /**
   * Each item succeeds or fails on its own: a caller's mistake (a bad item, a taken id) is that
   * item's result. A server fault stops the batch with BatchInterruptedError naming what was queued.
   */
  async sendBatch(inputs: readonly unknown[]): Promise<BatchItemResult[]> {
    const results: BatchItemResult[] = [];
    for (const input of inputs) {
      try {
        results.push(await this.#sendItem(input));
      } catch (error) {
        // The edge answers with the items before the fault, so the fault itself is logged here.
        const level = kindOf(error) === "internal" ? "error" : "warn";
        this.#options.logger[level]({ err: error, item: results.length }, "batch stopped by a server fault");
        throw new BatchInterruptedError(error, results);
      }
    }
    return results;
  }

  /** One item of a batch: an error of a caller's kind (4xx in the error table) is its result. */
  async #sendItem(input: unknown): Promise<BatchItemResult> {
    try {
      return { ok: true, result: await this.send(input) };
    } catch (error) {
      if (responseTo(error).http >= 500) throw error;
      return { ok: false, error: error as Error };
    }
  }

  async getJob(id: string): Promise<JobStatusView | undefined> {
    // Read from the master: the caller has often just created the job, and a replica may lag.
    const job = await this.#options.jobs.get(id, { consistency: "strong" });
    if (job === undefined) return undefined;
    return { job, events: await this.#options.tracking.listForJob(id) };
  }

  cancel(id: string): Promise<CancelOutcome> {
    return this.#options.jobs.cancel(id);
  }

  listJobs(filter: JobListFilter): Promise<JobPage> {
    return this.#options.jobs.list(filter);
  }

  /**
   * Sends a failed tracked job again with a fresh set of attempts. `not_retryable` names the status
   * that prevents it (only failed jobs can be retried).
   */
  async retry(id: string): Promise<
    | { outcome: "queued"; job: EmailJobRecord }
    | { outcome: "not_found" }
    | {
        outcome: "not_retryable";
        job: EmailJobRecord;
      }
  > {
    const job = await this.#options.jobs.requeue(id);
    if (job) {
      await this.#options.queue.publish([{ body: encodeTrackedReference(id), lane: laneOf(job.priority) }]);
      await this.#options.jobs.markEnqueued([id]);
      return { outcome: "queued", job };
    }
    const current = await this.#options.jobs.get(id, { consistency: "strong" });
    return current ? { outcome: "not_retryable", job: current } : { outcome: "not_found" };
  }

  async listDeadLetters(limit: number, reasonContains?: string): Promise<DeadLetter[]> {
    // The filter is applied to a wider read so that `limit` matching entries can still be found.
    const letters = await this.#options.queue.listDeadLetters(
      reasonContains ? Math.min(limit * 10, 10_000) : limit,
    );
    const matching = reasonContains ? letters.filter((l) => l.reason.includes(reasonContains)) : letters;
    return matching.slice(0, limit);
  }

  /** Replays the given dead letters, or every one matching the filter; `dryRun` only says which. */
  async replayDeadLetters(options: {
    ids: readonly string[];
    reasonContains?: string | undefined;
    limit: number;
    dryRun: boolean;
  }): Promise<{ replayed: string[]; missing: string[] }> {
    let ids = [...options.ids];
    const missing: string[] = [];
    if (ids.length === 0) {
      ids = (await this.listDeadLetters(options.limit, options.reasonContains)).map((l) => l.id);
    } else if (options.dryRun) {
      const known = new Set((await this.#options.queue.listDeadLetters(10_000)).map((l) => l.id));
      for (const id of ids) if (!known.has(id)) missing.push(id);
      ids = ids.filter((id) => known.has(id));
    }
    if (options.dryRun) return { replayed: ids, missing };
    const replayed: string[] = [];
    for (const id of ids) {
      if (await this.#options.queue.replayDeadLetter(id)) replayed.push(id);
      else missing.push(id);
    }
    if (replayed.length > 0) this.#options.logger.info({ count: replayed.length }, "dead letters replayed");
    return { replayed, missing };
  }

  listSuppressions(options: {
    limit?: number;
    cursor?: string;
    contains?: string;
  }): Promise<SuppressionPage> {
    return this.#options.suppressions.list(options);
  }

  async addSuppression(
    email: string,
    reason: SuppressionReason,
    source: string,
    details?: string,
  ): Promise<SuppressionRecord> {
    const record = await this.#options.suppressions.add({ email, reason, source, details: details ?? null });
    this.#options.logger.info({ email, reason, source }, "address suppressed");
    return record;
  }

  removeSuppression(email: string): Promise<boolean> {
    return this.#options.suppressions.remove(email);
  }

  async stats(): Promise<{ queue: QueueStats; tracked_by_status: Record<string, number>; driver: string }> {
    const [queue, tracked] = await Promise.all([
      this.#options.queue.stats(),
      this.#options.jobs.countByStatus(),
    ]);
    return { queue, tracked_by_status: tracked, driver: this.#options.queue.driver };
  }

  /**
   * A fast-path job may not take a tracked job's id: its outbox file would replace that job's and
   * its provider events would be recorded against it. Checked only when the client chose the id (a
   * generated one is fresh): one primary-key read on the master.
   */
  async #refuseTrackedId(input: unknown, job: EmailJob): Promise<void> {
    if (job.tracked || (input as { id?: unknown }).id === undefined) return;
    let taken: boolean;
    try {
      taken = await this.#options.jobs.exists(job.id);
    } catch (error) {
      // The fast path does not need the database, and must keep taking email while the master is
      // away: the check is skipped then (at worst a fast-path email shares a tracked job's id).
      if (kindOf(error) === "unavailable") return;
      throw error;
    }
    if (taken)
      throw new KindedError("conflict", `job id ${job.id} is a tracked job's`, { code: "job_id_taken" });
  }

  async #enqueueTracked(job: EmailJob): Promise<void> {
    try {
      await this.#options.jobs.create(jobToRow(job));
    } catch (error) {
      if (job.idempotency_key !== undefined)
        await this.#options.idempotency.release(job.idempotency_key, job.id).catch(() => {});
      throw error;
    }
    try {
      await this.#options.queue.publish([
        {
          body: encodeTrackedReference(job.id),
          lane: laneOf(job.priority),
          run_at: job.scheduled_at,
        },
      ]);
      await this.#options.jobs.markEnqueued([job.id]);
    } catch (error) {
      // The row is the source of truth: the reconciler publishes it once the queue is back.
      this.#options.logger.warn(
        { err: error, job_id: job.id },
        "tracked job stored but not yet queued; the reconciler will queue it",
      );
    }
  }
}
