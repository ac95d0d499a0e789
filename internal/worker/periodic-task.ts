import type { Logger } from "pino";

export interface PeriodicTaskOptions {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
  logger: Logger;
}

/**
 * Runs `run` every `intervalMs`, never two at once; failures are logged and the next run goes ahead.
 * The first run starts after a random part of the interval so replicas started together spread out.
 */
export class PeriodicTask {
  readonly #o: PeriodicTaskOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: PeriodicTaskOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#schedule(Math.random() * this.#o.intervalMs);
  }

  /** Runs once now (tests, and start-up work that should not wait for the first tick). */
  async runOnce(): Promise<void> {
    try {
      await this.#o.run();
    } catch (error) {
      this.#o.logger.error({ err: error, task: this.#o.name }, "periodic task failed");
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce().finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#schedule(this.#o.intervalMs);
      });
    }, delay);
    this.#timer.unref();
  }
}
