import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Delivery, JobQueue } from "../queue/queue.ts";

interface DeliveryHandler {
  /**
   * `signal` aborts when the job runs past its time limit or the pool is stopped for good.
   * `release` says the job's slow part is over (the provider accepted its email) and only its
   * recording is left: the pool may start another job in its slot meanwhile.
   */
  process(delivery: Delivery, signal: AbortSignal, release: () => void): Promise<unknown>;
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
 * free slots for, so a message is never held without someone working on it. A job that releases its
 * slot (sent; only its "sent" mark and acknowledgement are left) finishes in the background while
 * another job takes the slot; at most `concurrency` such jobs finish at once, beyond which a job
 * keeps its slot until it is done. So a crash leaves at most twice `concurrency` jobs sent but not
 * recorded — the ones that can be sent again. `stop()` stops fetching, lets in-flight and finishing
 * jobs finish until the deadline, then aborts them (they end as transient failures and are retried),
 * and waits for them to record that.
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  /** Jobs holding a slot. */
  readonly #inFlight = new Set<Promise<void>>();
  /** Jobs that gave their slot back and are recording how they ended. */
  readonly #finishing = new Set<Promise<void>>();
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

  /** Jobs sent and still being recorded, out of their slots. */
  get finishing(): number {
    return this.#finishing.size;
  }

  async stop(deadlineMs: number): Promise<void> {
    this.#fetching.abort();
    // A full pool waits for a slot; it must notice the stop without one freeing up.
    this.#slotFreed?.();
    await this.#loop;
    const deadline = new AbortController();
    const drained = await Promise.race([
      Promise.all([...this.#inFlight, ...this.#finishing]).then(() => true),
      sleep(deadlineMs, false, { signal: deadline.signal }).catch(() => false),
    ]);
    deadline.abort();
    if (!drained) {
      this.#options.logger.warn(
        { in_flight: this.#inFlight.size },
        "shutdown deadline reached: aborting in-flight sends",
      );
      for (const controller of this.#jobAborts) controller.abort();
      await Promise.all([...this.#inFlight, ...this.#finishing]);
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
    let task: Promise<void> | undefined;
    let holdsSlot = true;
    const release = () => {
      if (!holdsSlot || task === undefined || this.#finishing.size >= this.#options.concurrency) return;
      holdsSlot = false;
      this.#inFlight.delete(task);
      this.#finishing.add(task);
      this.#wakeLoop();
    };
    task = this.#options.handler
      .process(delivery, controller.signal, release)
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
        if (task === undefined) return;
        this.#finishing.delete(task);
        if (holdsSlot) {
          this.#inFlight.delete(task);
          this.#wakeLoop();
        }
      });
    this.#inFlight.add(task);
  }

  #wakeLoop(): void {
    const wake = this.#slotFreed;
    this.#slotFreed = undefined;
    wake?.();
  }
}
