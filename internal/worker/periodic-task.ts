import type { Logger } from "pino";

interface PeriodicTaskOptions {
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
  readonly #options: PeriodicTaskOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: PeriodicTaskOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#schedule(Math.random() * this.#options.intervalMs);
  }

  /** Runs once now (tests, and start-up work that should not wait for the first tick). */
  async runOnce(): Promise<void> {
    try {
      await this.#options.run();
    } catch (error) {
      this.#options.logger.error({ err: error, task: this.#options.name }, "periodic task failed");
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
        if (!this.#stopped) this.#schedule(this.#options.intervalMs);
      });
    }, delay);
    this.#timer.unref();
  }
}
