import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Delivery, JobQueue } from "../queue/queue.ts";
import { BULK_LANE, type BulkThrottle } from "./bulk-throttle.ts";

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
  /** Holds low-priority jobs to fewer slots while critical and high ones need the process. */
  bulkThrottle?: Pick<BulkThrottle, "limit" | "noteJob"> | undefined;
}

/** Fetching has failed every time since `since`; the last error says why. */
export interface ConsumerFailure {
  since: Date;
  error: string;
}

/**
 * Feeds the queue's deliveries to `concurrency` concurrent jobs. It never fetches more than it has
 * free slots for, and every job runs against its time limit from the moment it is fetched, so no
 * message waits in the process longer than that. A job that releases its slot (sent; only its "sent"
 * mark and acknowledgement are left) finishes in the background while another job takes the slot;
 * at most `concurrency` such jobs finish at once, beyond which a job keeps its slot until it is done.
 * So a crash leaves at most twice `concurrency` jobs sent but not recorded — the ones that can be sent
 * again. With a bulk throttle, a low-priority job beyond the throttle's limit waits in its slot for
 * another to end (or for its own time to run out): the fetch that brought it cannot choose lanes, and
 * the next free slot goes to whatever is most urgent on the queue then. `stop()` stops fetching, lets
 * in-flight and finishing jobs finish until the deadline, then aborts them (they end as transient
 * failures and are retried), and waits for them to record that.
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
  /** Low-priority jobs working now: at most the throttle's limit. */
  #bulkWorking = 0;
  /** Low-priority jobs holding a slot until the throttle lets them work, in the order they came. */
  readonly #bulkWaiting: (() => void)[] = [];
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
    const { bulkThrottle } = this.#options;
    bulkThrottle?.noteJob(delivery.lane, Date.now());
    const throttled = bulkThrottle !== undefined && delivery.lane === BULK_LANE;
    const release = () => {
      if (!holdsSlot || task === undefined || this.#finishing.size >= this.#options.concurrency) return;
      holdsSlot = false;
      this.#inFlight.delete(task);
      this.#finishing.add(task);
      this.#wakeLoop();
    };
    let working = false;
    const run = () => this.#options.handler.process(delivery, controller.signal, release);
    task = (
      throttled
        ? this.#bulkTurn(controller.signal).then((turn) => {
            working = turn;
            return run();
          })
        : run()
    )
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
        if (working) this.#bulkDone();
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

  /**
   * Resolves once a low-priority job may work: at once while fewer than the throttle's limit are
   * working, else when one of them ends. True when it got its turn; false when its time ran out while
   * it waited (it goes on with its aborted signal and ends as a timed-out attempt).
   */
  #bulkTurn(signal: AbortSignal): Promise<boolean> {
    if (this.#bulkWorking < this.#bulkLimit()) {
      this.#bulkWorking++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const admit = () => {
        signal.removeEventListener("abort", giveUp);
        resolve(true);
      };
      const giveUp = () => {
        const index = this.#bulkWaiting.indexOf(admit);
        if (index >= 0) this.#bulkWaiting.splice(index, 1);
        resolve(false);
      };
      this.#bulkWaiting.push(admit);
      signal.addEventListener("abort", giveUp, { once: true });
    });
  }

  /** A low-priority job ended: the next ones waiting may work, as many as the limit allows now. */
  #bulkDone(): void {
    this.#bulkWorking--;
    const limit = this.#bulkLimit();
    while (this.#bulkWorking < limit && this.#bulkWaiting.length > 0) {
      this.#bulkWorking++;
      this.#bulkWaiting.shift()?.();
    }
  }

  #bulkLimit(): number {
    return this.#options.bulkThrottle?.limit(Date.now()) ?? Number.POSITIVE_INFINITY;
  }

  #wakeLoop(): void {
    const wake = this.#slotFreed;
    this.#slotFreed = undefined;
    wake?.();
  }
}
