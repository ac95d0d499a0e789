import type { Logger } from "pino";
import { KindedError, kindOf, NotFoundError } from "../errors/error-kind.ts";
import { responseTo } from "../errors/error-responses.ts";
import type { EmailJob } from "../job/email-job.ts";
import { jobIdKey } from "../job/idempotency-keys.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import { BATCH_ID, BATCH_ID_RULE, parseJob } from "../job/parse-job.ts";
import { laneOf } from "../job/priority.ts";
import { encodeJob, encodeTrackedReference } from "../job/queue-message.ts";
import { type DeadLetterScan, type DeadLetterScanPage, scanDeadLetters } from "../queue/dead-letter-scan.ts";
import { IDEMPOTENCY_TTL_MS, type IdempotencyStore } from "../queue/idempotency.ts";
import { type DeadLetter, DeadLetterPositionError, type JobQueue, type QueueStats } from "../queue/queue.ts";
import { jobToRow } from "../store/job-mapping.ts";
import type {
  CancelOutcome,
  EmailJobRecord,
  JobListFilter,
  JobPage,
  JobRepository,
} from "../store/job-repository.ts";
import { InvalidCursorError } from "../store/keyset-cursor.ts";
import { decodePageToken, encodePageToken } from "../store/page-token.ts";
import type {
  SuppressionList,
  SuppressionPage,
  SuppressionReason,
  SuppressionRecord,
} from "../store/suppression-repository.ts";
import type { TrackingRecord, TrackingRepository } from "../store/tracking-repository.ts";
import { refuseOversizedInlineTemplate } from "../template/template-size.ts";
import type { TraceCarrier } from "../tracing/trace-context.ts";
import { checkSelection, type DeadLetterSelection, letterFilter } from "./dead-letter-selection.ts";
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
  return jobIdKey(job.id);
}

/** The trace a job continues, for the queue to carry beside its body too. */
function traceOf(job: EmailJob): TraceCarrier | undefined {
  return job.traceparent ? { traceparent: job.traceparent, tracestate: job.tracestate } : undefined;
}

interface EmailServiceOptions {
  /** The trace the current request belongs to (OpenTelemetry's active span), stamped on its jobs. */
  trace?: () => TraceCarrier | undefined;
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

/** One page of dead letters for the API. */
export interface DeadLetterPage {
  letters: DeadLetter[];
  /** Absent on the last page. */
  next_page_token: string | undefined;
  /** Dead letters in all, whatever the filter. */
  total_count: number;
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

/** A batch (SendBatch's batch_id): its jobs counted by status. */
export interface BatchView {
  batch_id: string;
  total: number;
  by_status: Record<string, number>;
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
    this.#continueTrace(job);
    if (job.campaign_id !== undefined)
      throw new JobValidationError([
        { field: "campaign_id", description: "is set by a campaign's dispatch, not at intake" },
      ]);
    if (this.#options.maxTemplateBytes !== undefined)
      refuseOversizedInlineTemplate(job, this.#options.maxTemplateBytes);
    // Both only read (a render, a database lookup): side by side, a request waits for the slower
    // one instead of both in turn. A job failing both hears about its content first.
    const [checked, idFree] = await Promise.allSettled([
      this.#options.check?.(job),
      this.#refuseTrackedId(input, job),
    ]);
    if (checked.status === "rejected") throw checked.reason;
    if (idFree.status === "rejected") throw idFree.reason;
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
          { body: encodeJob(job), lane: laneOf(job.priority), run_at: job.scheduled_at, trace: traceOf(job) },
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
   * With `batchId`, every item is tracked and carries it (an item naming another batch is refused).
   */
  async sendBatch(inputs: readonly unknown[], batchId?: string): Promise<BatchItemResult[]> {
    if (batchId !== undefined && !BATCH_ID.test(batchId))
      throw new JobValidationError([{ field: "batch_id", description: BATCH_ID_RULE }]);
    const results: BatchItemResult[] = [];
    for (const item of inputs) {
      const isObject = typeof item === "object" && item !== null && !Array.isArray(item);
      const input =
        batchId !== undefined && isObject
          ? { tracked: true, ...item, batch_id: (item as { batch_id?: unknown }).batch_id ?? batchId }
          : item;
      if (batchId !== undefined && isObject && (input as { batch_id?: unknown }).batch_id !== batchId) {
        results.push({
          ok: false,
          error: new JobValidationError([
            { field: "batch_id", description: `is not the request's batch_id "${batchId}"` },
          ]),
        });
        continue;
      }
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

  /** A batch's jobs counted by status; NotFoundError when no job carries the batch_id. */
  async getBatch(batchId: string): Promise<BatchView> {
    const byStatus = await this.#options.jobs.countBatch(batchId);
    const total = Object.values(byStatus).reduce((sum, n) => sum + n, 0);
    if (total === 0) throw new NotFoundError(`no job carries batch_id "${batchId}"`, "batch_not_found");
    return { batch_id: batchId, total, by_status: byStatus };
  }

  /** Cancels the batch's jobs not yet handed to a provider. */
  async cancelBatch(batchId: string): Promise<{ batch: BatchView; cancelled: number }> {
    const cancelled = await this.#options.jobs.cancelBatch(batchId);
    const batch = await this.getBatch(batchId);
    this.#options.logger.info({ batch_id: batchId, cancelled }, "batch cancelled");
    return { batch, cancelled };
  }

  /** The tracked job sent with this idempotency key (the newest, should a key have outlived its 24 h). */
  async getJobByIdempotencyKey(key: string): Promise<JobStatusView | undefined> {
    const id = await this.#options.jobs.idForIdempotencyKey(key);
    return id === undefined ? undefined : this.getJob(id);
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

  /**
   * One page of dead letters, newest first. With `reasonContains` a request reads at most
   * DEAD_LETTER_SCAN_LIMIT letters: a page may then come short, even empty, with a token to go on.
   */
  async listDeadLetters(options: {
    limit: number;
    reasonContains?: string | undefined;
    pageToken?: string | undefined;
  }): Promise<DeadLetterPage> {
    const { reasonContains } = options;
    const after = options.pageToken ? decodePageToken(options.pageToken) : undefined;
    const [page, stats] = await Promise.all([
      this.#scanDeadLetters({
        limit: options.limit,
        after,
        matches: reasonContains ? (l: DeadLetter) => l.reason.includes(reasonContains) : undefined,
      }),
      this.#options.queue.stats(),
    ]);
    return {
      letters: page.letters,
      next_page_token: page.next === undefined ? undefined : encodePageToken(page.next),
      total_count: stats.dead,
    };
  }

  /**
   * Replays the given dead letters, or up to `limit` of those the selection matches (newest first,
   * reading at most DEAD_LETTER_SCAN_LIMIT); `dryRun` only says which. A selection naming nothing
   * is refused (JobValidationError on `all`).
   */
  async replayDeadLetters(
    options: DeadLetterSelection & { limit: number; dryRun: boolean },
  ): Promise<{ replayed: string[]; missing: string[] }> {
    checkSelection(options);
    let ids = [...options.ids];
    const missing: string[] = [];
    if (ids.length === 0) {
      const matches = letterFilter(options, async (id) => (await this.#options.jobs.get(id))?.job_type);
      ids = (await this.#scanDeadLetters({ limit: options.limit, matches })).letters.map((l) => l.id);
    } else if (options.dryRun) {
      const wanted = new Set(ids);
      const { letters } = await this.#scanDeadLetters({
        limit: wanted.size,
        matches: (l) => wanted.has(l.id),
      });
      const known = new Set(letters.map((l) => l.id));
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

  /** A queue position that is not one (a token from another driver) is the client's bad token. */
  async #scanDeadLetters(scan: DeadLetterScan): Promise<DeadLetterScanPage> {
    try {
      return await scanDeadLetters(this.#options.queue, scan);
    } catch (error) {
      if (error instanceof DeadLetterPositionError)
        throw new InvalidCursorError("page_token is not one returned by a previous page");
      throw error;
    }
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

  /** The job goes on carrying the trace of the request that made it (OpenTelemetry, when on). */
  #continueTrace(job: EmailJob): void {
    const trace = this.#options.trace?.();
    if (!trace?.traceparent) return;
    job.traceparent = trace.traceparent;
    if (trace.tracestate) job.tracestate = trace.tracestate;
    else delete job.tracestate;
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
          body: encodeTrackedReference(job.id, job),
          lane: laneOf(job.priority),
          run_at: job.scheduled_at,
          trace: traceOf(job),
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
