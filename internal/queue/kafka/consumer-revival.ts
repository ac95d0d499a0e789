import type { Consumer } from "kafkajs";
import type { Logger } from "pino";

/** Why a consumer is down, and since when. */
export interface ConsumerDown {
  error: unknown;
  since: Date;
}

interface ConsumerRevivalOptions {
  /** What the consumer is, in log lines and errors ("kafka consumer", "kafka retry relay"). */
  name: string;
  /** Connects the consumer and runs it again (its subscriptions are kept across a crash). */
  start: () => Promise<void>;
  logger?: Logger | undefined;
  /** The first wait before starting it again; doubled after each failed start. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * kafkajs starts a crashed consumer again by itself only when the error is retriable. After any
 * other crash (the group or topic no longer authorized, an answer the client does not expect) the
 * consumer stays disconnected for good, and fetches simply find nothing: the process would look
 * idle, not broken. This starts such a consumer again, backing off between attempts, and says why
 * it is down until it has rejoined its group.
 */
export class ConsumerRevival {
  readonly #options: ConsumerRevivalOptions;
  readonly #unsubscribe: (() => void)[];
  #down: ConsumerDown | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delayMs: number;
  #closed = false;

  constructor(consumer: Consumer, options: ConsumerRevivalOptions) {
    this.#options = options;
    this.#delayMs = this.#firstDelay;
    this.#unsubscribe = [
      consumer.on(consumer.events.CRASH, ({ payload }) => this.#crashed(payload.error, payload.restart)),
      consumer.on(consumer.events.GROUP_JOIN, () => this.#joined()),
    ];
  }

  /** Undefined while the consumer runs (or kafkajs is restarting it itself). */
  down(): ConsumerDown | undefined {
    return this.#down;
  }

  /** Stops starting it again: the consumer is being closed on purpose. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }

  get #firstDelay(): number {
    return this.#options.firstDelayMs ?? 1_000;
  }

  #crashed(error: unknown, restarting: boolean): void {
    const { logger, name } = this.#options;
    logger?.error({ err: error, restart: restarting }, `${name} crashed`);
    if (restarting || this.#closed) return;
    this.#down ??= { error, since: new Date() };
    this.#schedule();
  }

  #joined(): void {
    if (this.#down !== undefined)
      this.#options.logger?.info(
        { down_since: this.#down.since.toISOString() },
        `${this.#options.name} runs again`,
      );
    this.#down = undefined;
    this.#delayMs = this.#firstDelay;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const delay = this.#delayMs;
    this.#delayMs = Math.min(delay * 2, this.#options.maxDelayMs ?? 30_000);
    this.#options.logger?.warn({ retry_in_ms: delay }, `starting the ${this.#options.name} again`);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      // A start that fails inside kafkajs crashes again (and comes back here); one that fails
      // before it gets there (the brokers unreachable) is retried from here.
      this.#options.start().catch((error: unknown) => {
        if (this.#down !== undefined) this.#down = { error, since: this.#down.since };
        this.#schedule();
      });
    }, delay);
  }
}

/** The error a fetch gives while a consumer the queue needs is down. */
export function consumerDownError(name: string, down: ConsumerDown): Error {
  const reason = down.error instanceof Error ? down.error.message : String(down.error);
  return new Error(`${name} stopped at ${down.since.toISOString()} (${reason}) and is being started again`, {
    cause: down.error,
  });
}
