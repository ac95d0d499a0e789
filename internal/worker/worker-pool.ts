import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Delivery, JobQueue } from "../queue/queue.ts";

interface DeliveryHandler {
  /** `signal` aborts when the job runs past its time limit or the pool is stopped for good. */
  process(delivery: Delivery, signal: AbortSignal): Promise<unknown>;
}

interface WorkerPoolOptions {
  queue: JobQueue;
  handler: DeliveryHandler;
  /** Jobs in flight at most (the Go service's worker goroutines). */
  concurrency: number;
  /** Deliveries asked for per fetch, at most. */
  batchSize: number;
  /** One job's time limit (worker.process_timeout); its signal aborts after it. */
  jobTimeoutMs: number;
  logger: Logger;
  /** Called when fetching starts failing (false) and when it works again (true). */
  onConsumerStateChange?: ((up: boolean) => void) | undefined;
}

/** Fetching has failed every time since `since`; the last error says why. */
export interface ConsumerFailure {
  since: Date;
  error: string;
}

/**
 * Feeds the queue's deliveries to `concurrency` concurrent jobs. It never fetches more than it has
 * free slots for, so a message is never held without someone working on it. `stop()` stops
 * fetching, lets in-flight jobs finish until the deadline, then aborts them (they end as transient
 * failures and are retried), and waits for them to record that.
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #inFlight = new Set<Promise<void>>();
  /** One per running job; aborted on its deadline, or all at once when the drain deadline passes. */
  readonly #jobAborts = new Set<AbortController>();
  readonly #fetching = new AbortController();
  #slotFreed: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #lastTick = Date.now();
  #failure: ConsumerFailure | undefined;

  constructor(options: WorkerPoolOptions) {
    if (options.concurrency < 1 || options.batchSize < 1)
      throw new RangeError("concurrency and batch size must be >= 1");
    this.#options = options;
  }

  start(): void {
    if (this.#loop !== undefined) return;
    this.#loop = this.#run();
  }

  /**
   * When the loop last did its work: a fetch that answered, or a wait for a slot while every worker
   * is busy. Failed fetches do not count, so a consumer that can no longer read (its queue gone, its
   * connection refused) stops moving it, as a wedged one does (liveness).
   */
  get lastTick(): Date {
    return new Date(this.#lastTick);
  }

  /** Why fetching has been failing, and since when; undefined while it works. */
  get consumerFailure(): ConsumerFailure | undefined {
    return this.#failure;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  async stop(deadlineMs: number): Promise<void> {
    this.#fetching.abort();
    // A full pool waits for a slot; it must notice the stop without one freeing up.
    this.#slotFreed?.();
    await this.#loop;
    const deadline = new AbortController();
    const drained = await Promise.race([
      Promise.all(this.#inFlight).then(() => true),
      sleep(deadlineMs, false, { signal: deadline.signal }).catch(() => false),
    ]);
    deadline.abort();
    if (!drained) {
      this.#options.logger.warn(
        { in_flight: this.#inFlight.size },
        "shutdown deadline reached: aborting in-flight sends",
      );
      for (const controller of this.#jobAborts) controller.abort();
      await Promise.all(this.#inFlight);
    }
  }

  async #run(): Promise<void> {
    const { queue, concurrency, batchSize, logger } = this.#options;
    let failures = 0;
    while (!this.#fetching.signal.aborted) {
      const free = concurrency - this.#inFlight.size;
      if (free <= 0) {
        this.#lastTick = Date.now();
        // One waiter woken by the next job to finish: racing every in-flight promise instead adds
        // a reaction to each of them on every turn, which at tens of thousands of jobs a second
        // is most of what the garbage collector does.
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        continue;
      }
      let deliveries: Delivery[];
      try {
        deliveries = await queue.fetch(Math.min(batchSize, free), this.#fetching.signal);
        failures = 0;
        this.#lastTick = Date.now();
        if (this.#failure) {
          this.#failure = undefined;
          logger.info("queue fetch works again");
          this.#options.onConsumerStateChange?.(true);
        }
      } catch (error) {
        failures++;
        if (!this.#failure) this.#options.onConsumerStateChange?.(false);
        this.#failure = {
          since: this.#failure?.since ?? new Date(),
          error: error instanceof Error ? error.message : String(error),
        };
        const backoff = Math.min(100 * 2 ** failures, 5_000);
        logger.error({ err: error, retry_in_ms: backoff }, "queue fetch failed");
        await sleep(backoff).catch(() => {});
        continue;
      }
      for (const delivery of deliveries) this.#dispatch(delivery);
    }
  }

  #dispatch(delivery: Delivery): void {
    // A plain controller and timer per job: AbortSignal.timeout/any cost far more on this hot path.
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), this.#options.jobTimeoutMs);
    this.#jobAborts.add(controller);
    const task = this.#options.handler
      .process(delivery, controller.signal)
      .then(
        () => {},
        (error: unknown) => {
          // The queue operation that ends the delivery failed (database or queue down): the message
          // stays unacknowledged and comes back after the visibility timeout.
          this.#options.logger.error(
            { err: error, delivery_id: delivery.id },
            "job processing failed; message will be redelivered",
          );
        },
      )
      .finally(() => {
        clearTimeout(deadline);
        this.#jobAborts.delete(controller);
        this.#inFlight.delete(task);
        const wake = this.#slotFreed;
        this.#slotFreed = undefined;
        wake?.();
      });
    this.#inFlight.add(task);
  }
}
