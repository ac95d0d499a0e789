import type { Attributes, Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { CampaignStatus } from "../campaign/campaign-status.ts";
import { kindOf } from "../errors/error-kind.ts";
import type { EmailJob, Mailbox } from "../job/email-job.ts";
import { deliveryKeyOf } from "../job/idempotency-keys.ts";
import { derivedJobId } from "../job/job-id.ts";
import { PRIORITY_VALUES } from "../job/priority.ts";
import {
  decodeQueueMessage,
  encodeNextAttempt,
  encodeTrackedReference,
  MalformedMessageError,
  type QueueMessageContent,
} from "../job/queue-message.ts";
import { asDeliveryError } from "../provider/delivery-error.ts";
import type { OutgoingEmail } from "../provider/provider.ts";
import type { ProviderRouter } from "../provider/provider-router.ts";
import { deadLetterReason } from "../queue/dead-letter-reason.ts";
import { IDEMPOTENCY_TTL_MS, type IdempotencyStore } from "../queue/idempotency.ts";
import type { Delivery, JobQueue } from "../queue/queue.ts";
import type { RecipientOutcome } from "../store/campaign-outcome-repository.ts";
import { ConflictError } from "../store/errors.ts";
import { jobToRow, rowToJob } from "../store/job-mapping.ts";
import type { JobRepository } from "../store/job-repository.ts";
import type { SuppressionRecord } from "../store/suppression-repository.ts";
import type { TrackingRepository } from "../store/tracking-repository.ts";
import type { TemplateRenderer } from "../template/renderer.ts";
import { carrierFrom, type TraceCarrier, validTraceparent } from "../tracing/trace-context.ts";
import { SpanKind, type Tracing } from "../tracing/tracing.ts";
import { type Decided, logEnding } from "./ending-log.ts";
import { decideAfterFailure } from "./failure-decision.ts";
import { JobCompleter, type JobEnding } from "./job-completer.ts";
import { renderJob } from "./render-job.ts";
import type { RetryPolicy } from "./retry-policy.ts";

interface JobProcessorOptions {
  queue: JobQueue;
  /** Prefixes the ids given to queue messages that arrive without one. */
  queueName: string;
  jobs: JobRepository;
  tracking: TrackingRepository;
  idempotency: IdempotencyStore;
  /**
   * Untracked campaigns' jobs: their campaign's status (read with a short cache, see
   * CampaignStates), and where their recipients' outcomes are recorded.
   */
  campaigns: { status(id: string): Promise<CampaignStatus | undefined> };
  campaignOutcomes: { record(outcome: RecipientOutcome): Promise<boolean> };
  /** The suppression list: a job to an address on it ends `suppressed`, with no provider call. */
  suppressions: { find(email: string): Promise<SuppressionRecord | undefined> };
  /**
   * A fast-path job whose suppression lookup finds the database unavailable is sent unchecked
   * (`email.suppression_fail_open`), rather than held until the database is back.
   */
  suppressionFailOpen: boolean;
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
  /** OpenTelemetry spans for each delivery, continuing the trace its message carries; off: none. */
  tracing?: Tracing;
}

/**
 * The trace a message carries, read without taking the message apart a second time: the job's (or
 * a tracked reference's) `traceparent` and `tracestate` fields.
 */
function traceInBody(body: string): TraceCarrier | undefined {
  const traceparent = validTraceparent(/"traceparent"\s*:\s*"([0-9a-f-]{55})"/.exec(body)?.[1]);
  if (!traceparent) return undefined;
  const tracestate = /"tracestate"\s*:\s*"([^"\\]{1,512})"/.exec(body)?.[1];
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

type JobOutcomeStatus =
  | "sent"
  | "retrying"
  | "failed"
  | "dead_lettered"
  | "skipped"
  | "deferred"
  | "suppressed"
  | "sandboxed"
  | "parked"
  | "cancelled";

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

const STATUS_OF_ENDING: Readonly<Record<JobEnding["kind"], JobOutcomeStatus>> = {
  sent: "sent",
  skipped: "skipped",
  suppressed: "suppressed",
  sandboxed: "sandboxed",
  parked: "parked",
  cancelled: "cancelled",
  retry: "retrying",
  defer: "deferred",
  fail: "failed",
  dead_letter: "dead_lettered",
};

type Claim = { claimed: EmailJob } | { decided: Decided };

/** How soon a tracked job is tried again while the database cannot be reached to claim it. */
const DATABASE_RETRY_MS = 5_000;

/**
 * A tracked job cannot be claimed (nor an untracked campaign's job be checked against its campaign)
 * while the database is unavailable: it goes back on the queue for a few seconds, same attempt,
 * rather than waiting out the visibility timeout unacknowledged.
 */
function deferWhileUnavailable(error: unknown, delivery: Delivery): { decided: Decided } {
  if (kindOf(error) !== "unavailable") throw error;
  return {
    decided: {
      ending: {
        kind: "defer",
        body: delivery.body,
        runAt: new Date(Date.now() + DATABASE_RETRY_MS),
        reason: "database unavailable: job not checked against its record",
      },
      logFields: { err: error },
    },
  };
}

/** The suppression list could not be read, and the job may go without it. */
const UNCHECKED = Symbol("suppression unchecked");

/**
 * One delivery's life: decode → (tracked: load from the master and claim) → idempotency →
 * suppression → render → route → send, deciding how it ends; the JobCompleter then writes that
 * ending to the store and makes the one queue operation that finishes the delivery.
 */
export class JobProcessor {
  readonly #options: JobProcessorOptions;
  readonly #completer: JobCompleter;

  constructor(options: JobProcessorOptions) {
    this.#options = options;
    this.#completer = new JobCompleter(options);
  }

  /**
   * `signal` aborts the send: the job's time limit, or a shutdown that could not wait any longer.
   * `release` is called once the email is sent and only its recording is left (see WorkerPool).
   */
  process(delivery: Delivery, signal?: AbortSignal, release?: () => void): Promise<JobOutcome> {
    const tracing = this.#options.tracing;
    if (!tracing?.enabled) return this.#process(delivery, signal, release);
    return tracing.span(
      "email deliver",
      {
        kind: SpanKind.CONSUMER,
        // A publisher may carry it in Kafka's headers only.
        parent: traceInBody(delivery.body) ?? carrierFrom((name) => delivery.headers?.[name]),
        attributes: {
          "messaging.destination.name": `${this.#options.queueName}:${delivery.lane}`,
          "messaging.message.id": delivery.id,
          "email.attempt": delivery.attempt + 1,
          ...(delivery.enqueuedAt !== undefined && {
            "email.queue_wait_ms": Math.max(0, Date.now() - delivery.enqueuedAt),
          }),
        },
      },
      async (span) => {
        const outcome = await this.#process(delivery, signal, release);
        span?.setAttributes({
          "email.status": outcome.status,
          "email.job_type": outcome.job_type,
          "email.tracked": outcome.tracked,
          ...(outcome.provider && { "email.provider": outcome.provider }),
        });
        return outcome;
      },
    );
  }

  async #process(delivery: Delivery, signal?: AbortSignal, release?: () => void): Promise<JobOutcome> {
    const started = performance.now();
    const startedAt = Date.now();
    const decided = await this.#decide(delivery, signal);
    // Low-priority work (campaigns, bulk) keeps its slot until it is recorded: giving it back early
    // lets more of it in while its recordings still load the database, and critical email sent
    // during a campaign at full speed waited longer for it (p99 128 against 74 ms, bench:campaign).
    if (decided.ending.kind === "sent" && decided.ending.job.priority >= PRIORITY_VALUES.normal) release?.();
    await this.#traced("email record", {}, () => this.#completer.finish(delivery, decided.ending));
    const durationMs = performance.now() - started;
    logEnding(this.#options.logger, delivery, decided, durationMs);
    const { job, ending } = decided;
    const scheduled = job?.scheduled_at?.getTime();
    const outcome: JobOutcome = {
      status: STATUS_OF_ENDING[ending.kind],
      job_type: job?.type ?? "unknown",
      lane: delivery.lane,
      provider: decided.provider,
      tracked: job?.tracked ?? false,
      duration_ms: durationMs,
      error_kind: decided.error?.kind,
      schedule_lateness_ms:
        ending.kind === "sent" && scheduled !== undefined ? Math.max(startedAt - scheduled, 0) : undefined,
    };
    this.#options.onOutcome?.(outcome);
    return outcome;
  }

  /** `fn` in a child span of the delivery's, when tracing is on. */
  #traced<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
    const tracing = this.#options.tracing;
    return tracing?.enabled ? tracing.span(name, { attributes }, fn) : fn(undefined);
  }

  async #decide(delivery: Delivery, signal: AbortSignal | undefined): Promise<Decided> {
    let content: QueueMessageContent;
    try {
      content = decodeQueueMessage(delivery.body, () => this.#stableId(delivery));
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      return {
        // Its message is already deadLetterReason.malformed's text.
        ending: { kind: "dead_letter", reason: error.message },
        logFields: { err: error },
      };
    }
    let job: EmailJob;
    if (content.kind === "tracked_reference" || content.job.tracked) {
      const claim = await this.#claimTracked(content).catch((error: unknown) =>
        deferWhileUnavailable(error, delivery),
      );
      if ("decided" in claim) return claim.decided;
      job = claim.claimed;
    } else {
      job = content.job;
      const early = deferralIfEarly(job);
      if (early) return { ending: early, job };
      if (job.campaign_id !== undefined) {
        const halted = await this.#haltedByCampaign(job).catch(
          (error: unknown) => deferWhileUnavailable(error, delivery).decided,
        );
        if (halted) return halted;
      }
      const duplicate = await this.#duplicateOf(job);
      if (duplicate !== undefined)
        return {
          ending: {
            kind: "skipped",
            job,
            reason: "duplicate idempotency key: not sent",
            alreadySent: duplicate === job.id,
          },
          job,
          logFields: { duplicate_of: duplicate },
        };
    }
    const suppression = await this.#suppressionOf(job);
    if (suppression === UNCHECKED) {
      const decided = await this.#send(delivery, job, signal);
      return { ...decided, logFields: { ...decided.logFields, suppression: "unchecked: list unavailable" } };
    }
    if (suppression) {
      const reason = `recipient suppressed (${suppression.reason}, ${suppression.source})`;
      return { ending: { kind: "suppressed", job, reason }, job, logFields: { reason: suppression.reason } };
    }
    const { kept, dropped } = await this.#withoutSuppressedCopies(job);
    const decided = await this.#send(delivery, kept, signal);
    return dropped.length === 0
      ? decided
      : { ...decided, logFields: { ...decided.logFields, suppressed_copies: dropped } };
  }

  /**
   * The job without its suppressed Cc and Bcc addresses: the others still get the message (only a
   * suppressed To stops the job). When the list cannot be read and the job may go unchecked (fast
   * path, fail-open), every address is kept, as the To was.
   */
  async #withoutSuppressedCopies(job: EmailJob): Promise<{ kept: EmailJob; dropped: string[] }> {
    const copies = [...(job.cc ?? []), ...(job.bcc ?? [])];
    if (copies.length === 0) return { kept: job, dropped: [] };
    const suppressed = await Promise.all(
      copies.map((mailbox) =>
        this.#suppressionOf({ ...job, recipient_email: mailbox.email }).then(
          (found) => found !== undefined && found !== UNCHECKED,
        ),
      ),
    );
    const dropped = copies.filter((_, i) => suppressed[i]).map((mailbox) => mailbox.email);
    if (dropped.length === 0) return { kept: job, dropped };
    const keep = (list: Mailbox[] | undefined) => list?.filter((mailbox) => !dropped.includes(mailbox.email));
    const kept: EmailJob = { ...job };
    const cc = keep(job.cc);
    const bcc = keep(job.bcc);
    if (cc?.length) kept.cc = cc;
    else delete kept.cc;
    if (bcc?.length) kept.bcc = bcc;
    else delete kept.bcc;
    return { kept, dropped };
  }

  /** The address's suppression, or UNCHECKED for a fast-path job when the list cannot be read. */
  async #suppressionOf(job: EmailJob): Promise<SuppressionRecord | undefined | typeof UNCHECKED> {
    try {
      return await this.#options.suppressions.find(job.recipient_email);
    } catch (error) {
      if (job.tracked || !this.#options.suppressionFailOpen || kindOf(error) !== "unavailable") throw error;
      return UNCHECKED;
    }
  }

  async #send(delivery: Delivery, job: EmailJob, signal: AbortSignal | undefined): Promise<Decided> {
    try {
      const rendered = await this.#traced(
        "email render",
        { "email.template_id": job.template_id ?? "" },
        () => renderJob(job, this.#options.renderer),
      );
      const email = this.#options.instrument ? this.#options.instrument(rendered) : rendered;
      if (job.sandbox) {
        const { provider } = await this.#options.router.sandbox(job, email);
        return { ending: { kind: "sandboxed", job, provider }, job, provider };
      }
      const result = await this.#traced("email send", {}, async (span) => {
        try {
          const sent = await this.#options.router.send(job, email, signal);
          // Never the recipient: the provider, its message id, and how it answered.
          span?.setAttributes({ "email.provider": sent.provider, "email.message_id": sent.message_id ?? "" });
          return sent;
        } catch (error) {
          const failure = asDeliveryError(error);
          span?.setAttributes({
            "email.error_kind": failure.kind,
            "email.response_code": failure.code ?? "",
          });
          throw error;
        }
      });
      return {
        ending: { kind: "sent", job, provider: result.provider, messageId: result.message_id },
        job,
        provider: result.provider,
        ...(result.refused_recipients && { logFields: { refused_recipients: result.refused_recipients } }),
      };
    } catch (caught) {
      const error = asDeliveryError(caught);
      const decision = decideAfterFailure(
        {
          kind: error.kind,
          code: error.code,
          message: error.message,
          retryAfterMs: error.retryAfterMs,
          attemptsBefore: delivery.attempt,
          maxRetries: job.max_retries ?? this.#options.defaultMaxRetries,
        },
        (attempt) => this.#options.retryPolicy.delayMs(attempt),
        Date.now(),
      );
      const ending: JobEnding =
        decision.action === "retry"
          ? { kind: "retry", job, ...decision }
          : { kind: "fail", job, ...decision };
      return { ending, job, provider: error.provider, error };
    }
  }

  /**
   * An untracked campaign's job while its campaign does not run: parked while it is paused (sent
   * when it resumes), dropped once it is cancelled, ended or gone.
   */
  async #haltedByCampaign(job: EmailJob): Promise<Decided | undefined> {
    const status = await this.#options.campaigns.status(job.campaign_id as string);
    if (status === "running") return undefined;
    const logFields = { campaign_id: job.campaign_id, campaign_status: status ?? "deleted" };
    if (status === "cancelled")
      return { ending: { kind: "cancelled", job, reason: "campaign cancelled: not sent" }, job, logFields };
    if (status === "completed" || status === undefined)
      return { ending: { kind: "skipped", job, reason: "campaign ended: message dropped" }, job, logFields };
    const reason = "campaign paused: job put aside until it resumes";
    return { ending: { kind: "parked", job, reason }, job, logFields };
  }

  /** The job that already holds this job's idempotency key, when it is another or was sent. */
  async #duplicateOf(job: EmailJob): Promise<string | undefined> {
    const key = deliveryKeyOf(job);
    if (key === undefined) return undefined;
    const holder = await this.#options.idempotency.reserve(key, job.id, IDEMPOTENCY_TTL_MS);
    return holder.job_id !== job.id || holder.state === "sent" ? holder.job_id : undefined;
  }

  /** A message without an id gets one derived from its queue position: its redeliveries agree on it. */
  #stableId(delivery: Delivery): string {
    return derivedJobId(`${this.#options.queueName}/${delivery.lane}/${delivery.id}`);
  }

  async #claimTracked(content: QueueMessageContent): Promise<Claim> {
    const id = content.kind === "tracked_reference" ? content.id : content.job.id;
    if (content.kind === "job") {
      // A tracked job published straight to the queue: its row is created here on first delivery.
      // Inserting and letting a redelivery hit the conflict costs one round trip; looking first, two.
      try {
        await this.#options.jobs.create({
          ...jobToRow(content.job),
          max_retries: content.job.max_retries ?? this.#options.defaultMaxRetries,
        });
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    // Claim first: in the common case that is the only read, and it returns the row.
    const claimed = await this.#options.jobs.claim(id, this.#options.claimLeaseMs);
    if (claimed !== undefined) {
      const job = rowToJob(claimed);
      const early = deferralIfEarly(job);
      return early ? { decided: { ending: { ...early, releaseClaimOf: id }, job } } : { claimed: job };
    }
    const current = await this.#options.jobs.get(id, { consistency: "strong" });
    if (current === undefined)
      return { decided: { ending: { kind: "dead_letter", reason: deadLetterReason.unknownTrackedJob(id) } } };
    const job = rowToJob(current);
    const lockedUntil = current.status === "processing" ? current.locked_until?.getTime() : undefined;
    if (lockedUntil !== undefined) {
      // Another worker holds the job. If it dies, its claim runs out: look again just after that.
      const runAt = new Date(Math.max(lockedUntil, Date.now()) + 250);
      const ending: JobEnding = {
        kind: "defer",
        body: encodeTrackedReference(id),
        runAt,
        reason: "claimed by another worker",
      };
      return { decided: { ending, job } };
    }
    if (current.campaign_id !== null && (current.status === "pending" || current.status === "retrying")) {
      // Claimable but not claimed: its campaign is not running (paused). Resuming publishes it again.
      const ending: JobEnding = {
        kind: "parked",
        job,
        reason: "campaign paused: job put aside until it resumes",
      };
      return { decided: { ending, job, logFields: { campaign_id: current.campaign_id } } };
    }
    // Sent, failed, cancelled or suppressed: this message has nothing left to do.
    const ending: JobEnding = {
      kind: "skipped",
      job,
      reason: "tracked job already finished: message dropped",
    };
    return { decided: { ending, job, logFields: { status: current.status } } };
  }
}

/** A job whose time has not come goes back to the queue until then, as the same attempt. */
function deferralIfEarly(job: EmailJob): Extract<JobEnding, { kind: "defer" }> | undefined {
  const at = job.scheduled_at?.getTime();
  if (at === undefined || at - Date.now() <= SCHEDULE_TOLERANCE_MS) return undefined;
  return { kind: "defer", body: encodeNextAttempt(job), runAt: new Date(at), reason: "scheduled for later" };
}
