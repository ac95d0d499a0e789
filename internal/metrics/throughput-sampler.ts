import type { Logger } from "pino";
import type { Counter } from "prom-client";
import { minuteOf, type ThroughputRepository } from "../store/throughput-repository.ts";

/** How long the history keeps a minute: the console shows an hour; a day leaves room to look back. */
export const THROUGHPUT_HISTORY_MS = 24 * 60 * 60_000;

/** `email_jobs_processed_total`'s status values counted as sent. */
export const SENT_STATUSES: readonly string[] = ["sent"];

/**
 * The status values counted as failures: every delivery that went wrong, as an operator watching the
 * fleet means it. `retrying` is an attempt that failed and will be tried again (transient errors,
 * and providers that throttled or were misconfigured); `failed` is one given up on (a permanent
 * error, or the attempts used up); `dead_lettered` is a message that was not a job at all
 * (malformed, or naming a tracked job that does not exist), so nothing can be sent for it. A job
 * that fails twice and is then sent counts two failures and one send: the chart shows attempts.
 * Not failures: deliberate non-sends (suppressed, sandboxed, cancelled, parked) and messages with
 * nothing to do yet or any more (deferred, skipped).
 */
export const FAILED_STATUSES: readonly string[] = ["retrying", "failed", "dead_lettered"];

interface Totals {
  sent: number;
  failed: number;
}

interface ThroughputSamplerOptions {
  /** The jobs-processed counter (`metrics.jobsProcessed`), read for its values by status. */
  counter: Pick<Counter<"status">, "get">;
  repository: Pick<ThroughputRepository, "add" | "deleteBefore">;
  now?: () => number;
  logger: Logger;
}

/**
 * Adds what this process finished since its last sample to the fleet's per-minute history. The
 * counter counts from zero since the process started, so the first sample adds everything so far.
 * When the database cannot take a sample, the totals written stay where they were: the next
 * sample adds the missed counts too (in its own minute), and nothing is added twice.
 */
export class ThroughputSampler {
  readonly #counter: ThroughputSamplerOptions["counter"];
  readonly #repository: ThroughputSamplerOptions["repository"];
  readonly #now: () => number;
  readonly #logger: Logger;
  /** The counter's totals already in the database. */
  #written: Totals = { sent: 0, failed: 0 };
  #failing = false;
  /** Samples run one after another: two at once would add the same counts twice. */
  #previous: Promise<void> = Promise.resolve();

  constructor(options: ThroughputSamplerOptions) {
    this.#counter = options.counter;
    this.#repository = options.repository;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
  }

  /** Adds the counts since the last sample written to the current minute; never throws for the database. */
  sample(): Promise<void> {
    const run = this.#previous.then(() => this.#sample());
    this.#previous = run.catch(() => {});
    return run;
  }

  /** The last sample, at shutdown once the workers have stopped. */
  flush(): Promise<void> {
    return this.sample();
  }

  /** Deletes the history older than a day before `now`; returns how many minutes went. */
  prune(now: Date = new Date(this.#now())): Promise<number> {
    return this.#repository.deleteBefore(new Date(now.getTime() - THROUGHPUT_HISTORY_MS));
  }

  async #sample(): Promise<void> {
    const totals = await this.#totals();
    const counts = {
      sent: since(totals.sent, this.#written.sent),
      failed: since(totals.failed, this.#written.failed),
    };
    if (counts.sent > 0 || counts.failed > 0) {
      try {
        await this.#repository.add(minuteOf(this.#now()), counts);
      } catch (error) {
        if (!this.#failing)
          this.#logger.warn(
            { err: error, pending: counts },
            "could not add to the throughput history; the counts are kept for the next sample",
          );
        this.#failing = true;
        return;
      }
      if (this.#failing) this.#logger.info({ added: counts }, "throughput history written again");
      this.#failing = false;
    }
    this.#written = totals;
  }

  async #totals(): Promise<Totals> {
    const totals = { sent: 0, failed: 0 };
    for (const { labels, value } of (await this.#counter.get()).values) {
      const status = String(labels.status);
      if (SENT_STATUSES.includes(status)) totals.sent += value;
      else if (FAILED_STATUSES.includes(status)) totals.failed += value;
    }
    return totals;
  }
}

/** A counter only goes down when it is reset (a registry reset): it then counts from zero again. */
function since(total: number, written: number): number {
  return total >= written ? total - written : total;
}
