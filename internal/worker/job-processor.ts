import { hash } from "node:crypto";
import type { Logger } from "pino";
import type { EmailJob } from "../job/email-job.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import { parseJob, serializeJob } from "../job/parse-job.ts";
import { asDeliveryError, type DeliveryError } from "../provider/delivery-error.ts";
import type { OutgoingEmail } from "../provider/provider.ts";
import type { ProviderRouter } from "../provider/provider-router.ts";
import { IDEMPOTENCY_TTL_MS, type IdempotencyStore } from "../queue/idempotency.ts";
import type { Delivery, JobQueue } from "../queue/queue.ts";
import { ConflictError } from "../store/errors.ts";
import { jobToRow, rowToJob } from "../store/job-mapping.ts";
import type { JobRepository } from "../store/job-repository.ts";
import type { SuppressionRecord } from "../store/suppression-repository.ts";
import type { TrackingRepository } from "../store/tracking-repository.ts";
import type { TemplateRenderer } from "../template/renderer.ts";
import type { RetryPolicy } from "./retry-policy.ts";

export interface JobProcessorOptions {
  queue: JobQueue;
  /** Prefixes the ids given to queue messages that arrive without one. */
  queueName: string;
  jobs: JobRepository;
  tracking: TrackingRepository;
  idempotency: IdempotencyStore;
  /** The suppression list: a job to an address on it ends `suppressed`, with no provider call. */
  suppressions: { find(email: string): Promise<SuppressionRecord | undefined> };
  renderer: TemplateRenderer;
  /** Adds open/click tracking and unsubscribe headers where the job type asks for them. */
  instrument?: (email: OutgoingEmail) => OutgoingEmail;
  router: ProviderRouter;
  retryPolicy: RetryPolicy;
  defaultMaxRetries: number;
  /**
   * How long a claim on a tracked job lasts: the queue's visibility timeout, so that by the time a
   * message is handed to another worker, the dead worker's claim has run out too.
   */
  claimLeaseMs: number;
  logger: Logger;
  /** Told how each delivery ended (metrics). */
  onOutcome?: (outcome: JobOutcome) => void;
}

export type JobOutcomeStatus =
  | "sent"
  | "retrying"
  | "failed"
  | "dead_lettered"
  | "skipped"
  | "deferred"
  | "suppressed";

export interface JobOutcome {
  status: JobOutcomeStatus;
  job_type: string;
  lane: string;
  provider: string | undefined;
  tracked: boolean;
  duration_ms: number;
  /** The failure's kind, when there was one. */
  error_kind?: string | undefined;
  /** For a scheduled job that was sent: how long after its time the worker started on it. */
  schedule_lateness_ms?: number | undefined;
}

/** Below this, a scheduled time counts as now: clocks of publishers and workers differ a little. */
const SCHEDULE_TOLERANCE_MS = 500;
/** A throttled or misconfigured provider is retried at least this much later. */
const MIN_DEFERRAL_MS = 1_000;

type Parsed = { kind: "job"; job: EmailJob } | { kind: "tracked_ref"; id: string };

/**
 * One delivery's life: parse → (tracked: load from the master and claim) → idempotency →
 * render → route → send → record → ack, or retry / dead-letter. Every path ends in exactly one queue
 * operation, so nothing is left hanging and nothing is lost.
 */
export class JobProcessor {
  readonly #options: JobProcessorOptions;

  constructor(options: JobProcessorOptions) {
    this.#options = options;
  }

  /** `signal` aborts the send: the job's time limit, or a shutdown that could not wait any longer. */
  async process(delivery: Delivery, signal?: AbortSignal): Promise<JobOutcome> {
    const started = performance.now();
    const startedAt = Date.now();
    const outcome = (
      status: JobOutcomeStatus,
      job?: EmailJob,
      provider?: string,
      errorKind?: string,
    ): JobOutcome => {
      const scheduled = job?.scheduled_at?.getTime();
      const result: JobOutcome = {
        status,
        job_type: job?.type ?? "unknown",
        lane: delivery.lane,
        provider,
        tracked: job?.tracked ?? false,
        duration_ms: performance.now() - started,
        error_kind: errorKind,
        schedule_lateness_ms:
          status === "sent" && scheduled !== undefined ? Math.max(startedAt - scheduled, 0) : undefined,
      };
      this.#options.onOutcome?.(result);
      return result;
    };

    const parsed = this.#parse(delivery);
    if (parsed instanceof Error) {
      this.#options.logger.warn(
        { delivery_id: delivery.id, lane: delivery.lane, err: parsed },
        "malformed message dead-lettered",
      );
      await this.#options.queue.deadLetter(delivery, parsed.message);
      return outcome("dead_lettered");
    }

    let job: EmailJob;
    if (parsed.kind === "tracked_ref" || parsed.job.tracked) {
      const claimed = await this.#claimTracked(delivery, parsed);
      if (claimed.kind !== "claimed")
        return outcome(claimed.kind === "deferred" ? "deferred" : claimed.kind, claimed.job);
      job = claimed.job;
    } else {
      job = parsed.job;
      if (await this.#deferIfEarly(delivery, job)) return outcome("deferred", job);
      if (job.idempotency_key !== undefined) {
        const holder = await this.#options.idempotency.reserve(
          job.idempotency_key,
          job.id,
          IDEMPOTENCY_TTL_MS,
        );
        if (holder.job_id !== job.id || holder.state === "sent") {
          this.#options.logger.info(
            { job_id: job.id, duplicate_of: holder.job_id },
            "duplicate idempotency key: not sent",
          );
          await this.#options.queue.ack(delivery);
          return outcome("skipped", job);
        }
      }
    }

    const fields = {
      job_id: job.id,
      job_type: job.type,
      attempt: delivery.attempt + 1,
      tracked: job.tracked,
    };
    const suppression = await this.#options.suppressions.find(job.recipient_email);
    if (suppression) {
      const reason = `recipient suppressed (${suppression.reason}, ${suppression.source})`;
      if (job.tracked) {
        await this.#options.jobs.markSuppressed(job.id, reason);
        await this.#options.tracking.append({ job_id: job.id, status: "suppressed", error_message: reason });
      }
      await this.#options.queue.ack(delivery);
      this.#options.logger.info({ ...fields, reason: suppression.reason }, "recipient suppressed: not sent");
      return outcome("suppressed", job);
    }
    try {
      const rendered = await this.#render(job);
      const email = this.#options.instrument ? this.#options.instrument(rendered) : rendered;
      const result = await this.#options.router.send(job, email, signal);
      await this.#recordSent(job, result.provider, result.message_id);
      await this.#options.queue.ack(delivery);
      // Checked first: building the line costs more than the send's own bookkeeping.
      if (this.#options.logger.isLevelEnabled("info")) {
        this.#options.logger.info(
          {
            ...fields,
            recipient: job.recipient_email,
            provider: result.provider,
            status: "sent",
            duration: Math.round(performance.now() - started),
          },
          "email sent",
        );
      }
      return outcome("sent", job, result.provider);
    } catch (caught) {
      const error = asDeliveryError(caught);
      const status = await this.#handleFailure(delivery, job, error, this.#options.logger.child(fields));
      return outcome(status, job, error.provider, error.kind);
    }
  }

  #parse(delivery: Delivery): Parsed | Error {
    let value: unknown;
    try {
      value = JSON.parse(delivery.body);
    } catch {
      return new Error("malformed message: body is not JSON");
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const ref = value as { id?: unknown; tracked?: unknown; recipient_email?: unknown };
      if (ref.tracked === true && typeof ref.id === "string" && ref.recipient_email === undefined) {
        return { kind: "tracked_ref", id: ref.id };
      }
    }
    try {
      return { kind: "job", job: parseJob(value, { defaultId: this.#stableId(delivery) }) };
    } catch (error) {
      if (error instanceof JobValidationError) return new Error(`malformed message: ${error.message}`);
      throw error;
    }
  }

  /** A message without an id gets one derived from its queue position: its redeliveries agree on it. */
  #stableId(delivery: Delivery): string {
    // One-shot hash: a quarter of createHash's cost, and this runs for every message without an id.
    const hex = hash("sha256", `${this.#options.queueName}/${delivery.lane}/${delivery.id}`, "hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  async #claimTracked(
    delivery: Delivery,
    parsed: Parsed,
  ): Promise<
    | { kind: "claimed"; job: EmailJob }
    | { kind: "skipped" | "deferred" | "dead_lettered"; job?: EmailJob | undefined }
  > {
    const id = parsed.kind === "tracked_ref" ? parsed.id : parsed.job.id;
    if (parsed.kind === "job") {
      // A tracked job published straight to the queue: its row is created here on first delivery.
      // Inserting and letting a redelivery hit the conflict costs one round trip; looking first, two.
      try {
        await this.#options.jobs.create({
          ...jobToRow(parsed.job),
          max_retries: parsed.job.max_retries ?? this.#options.defaultMaxRetries,
        });
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    // Claim first: in the common case that is the only read, and it returns the row.
    const claimed = await this.#options.jobs.claim(id, this.#options.claimLeaseMs);
    if (claimed !== undefined) {
      const job = rowToJob(claimed);
      const at = job.scheduled_at?.getTime();
      if (at !== undefined && at - Date.now() > SCHEDULE_TOLERANCE_MS) {
        await this.#options.jobs.releaseClaim(id);
        await this.#deferIfEarly(delivery, job);
        return { kind: "deferred", job };
      }
      return { kind: "claimed", job };
    }
    const current = await this.#options.jobs.get(id, { consistency: "strong" });
    if (current === undefined) {
      await this.#options.queue.deadLetter(delivery, `tracked job ${id} does not exist`);
      return { kind: "dead_lettered" };
    }
    const job = rowToJob(current);
    const lockedUntil = current.status === "processing" ? current.locked_until?.getTime() : undefined;
    if (lockedUntil !== undefined) {
      // Another worker holds the job. If it dies, its claim runs out: look again just after that.
      await this.#options.queue.retry(delivery, {
        body: JSON.stringify({ id, tracked: true }),
        run_at: new Date(Math.max(lockedUntil, Date.now()) + 250),
        attempt: delivery.attempt,
        error: "claimed by another worker",
      });
      return { kind: "deferred", job };
    }
    // Sent, failed, cancelled or suppressed: this message has nothing left to do.
    this.#options.logger.info(
      { job_id: id, status: current?.status },
      "tracked job already finished: message dropped",
    );
    await this.#options.queue.ack(delivery);
    return { kind: "skipped", job };
  }

  async #deferIfEarly(delivery: Delivery, job: EmailJob): Promise<boolean> {
    const at = job.scheduled_at?.getTime();
    if (at === undefined || at - Date.now() <= SCHEDULE_TOLERANCE_MS) return false;
    await this.#options.queue.retry(delivery, {
      body: job.tracked ? JSON.stringify({ id: job.id, tracked: true }) : serializeJob(job),
      run_at: new Date(at),
      attempt: delivery.attempt,
      error: "scheduled for later",
    });
    return true;
  }

  async #render(job: EmailJob): Promise<OutgoingEmail> {
    const base = {
      job_id: job.id,
      job_type: job.type,
      from: job.from,
      to: job.recipient_name
        ? { email: job.recipient_email, name: job.recipient_name }
        : { email: job.recipient_email },
      reply_to: job.reply_to,
      headers: job.headers,
      attachments: job.attachments,
      metadata: job.metadata,
    };
    if (job.template_id?.startsWith("d-")) {
      // A SendGrid dynamic template: SendGrid renders it.
      return {
        ...base,
        subject: job.subject ?? "",
        text: "",
        provider_template: { id: job.template_id, data: job.template_data },
      };
    }
    const content =
      job.template_id !== undefined
        ? await this.#options.renderer.renderTemplate(job.template_id, job.template_data)
        : this.#options.renderer.renderInline(
            { subject: job.subject, html: job.html, text: job.text },
            job.template_data,
          );
    return {
      ...base,
      // A job's own subject wins over its template's.
      subject: job.template_id !== undefined && job.subject !== undefined ? job.subject : content.subject,
      html: content.html,
      text: content.text,
    };
  }

  async #recordSent(job: EmailJob, provider: string, messageId: string): Promise<void> {
    if (job.tracked) {
      await this.#options.jobs.markSentWithEvent(job.id, provider, messageId);
    } else if (job.idempotency_key !== undefined) {
      await this.#options.idempotency.markSent(job.idempotency_key, job.id);
    }
  }

  async #handleFailure(
    delivery: Delivery,
    job: EmailJob,
    error: DeliveryError,
    log: Logger,
  ): Promise<JobOutcomeStatus> {
    const attempt = delivery.attempt + 1;
    const maxRetries = job.max_retries ?? this.#options.defaultMaxRetries;
    const reason = `${error.code}: ${error.message}`;
    const body = job.tracked ? JSON.stringify({ id: job.id, tracked: true }) : serializeJob(job);
    const fields = { err: error, kind: error.kind, code: error.code };

    if (error.kind === "throttled" || error.kind === "config") {
      // The provider is at fault, not the job: try again later without using up an attempt.
      const delay = Math.max(
        error.retryAfterMs ?? this.#options.retryPolicy.delayMs(Math.max(attempt, 1)),
        MIN_DEFERRAL_MS,
      );
      const runAt = new Date(Date.now() + delay);
      if (job.tracked) await this.#options.jobs.markRetrying(job.id, reason, runAt, false);
      await this.#options.queue.retry(delivery, {
        body,
        run_at: runAt,
        attempt: delivery.attempt,
        error: reason,
      });
      log.warn({ ...fields, retry_in_ms: delay }, "provider deferred the email");
      return "retrying";
    }
    if (error.kind === "transient" && attempt <= maxRetries) {
      const delay = this.#options.retryPolicy.delayMs(attempt);
      const runAt = new Date(Date.now() + delay);
      if (job.tracked) await this.#options.jobs.markRetrying(job.id, reason, runAt, true);
      await this.#options.queue.retry(delivery, { body, run_at: runAt, attempt, error: reason });
      log.warn({ ...fields, retry_in_ms: delay }, "send failed; will retry");
      return "retrying";
    }
    const why = error.kind === "transient" ? `gave up after ${attempt} attempts: ${reason}` : reason;
    if (job.tracked) {
      await this.#options.jobs.markFailed(job.id, why);
      await this.#options.tracking.append({ job_id: job.id, status: "failed", error_message: why });
    }
    await this.#options.queue.deadLetter({ ...delivery, attempt }, why);
    log.error(fields, "email failed");
    return "failed";
  }
}
