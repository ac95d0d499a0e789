import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import type { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import type { RedisClient } from "../queue/redis/connect-redis.ts";
import { DeliveryError } from "./delivery-error.ts";
import { RedisSemaphore } from "./redis-semaphore.ts";

interface ProviderGateOptions {
  provider: string;
  /** Messages per second; 0 = unlimited. */
  ratePerSecond: number;
  /** Sends in flight at once (across replicas when Redis is given); 0 = unlimited. */
  maxConcurrency: number;
  /** How long a slot is held at most: a replica that dies mid-send frees its slots after this. */
  leaseMs: number;
  /** Shared limiter state: with it the rate holds across every replica using the same Redis. */
  redis?: RedisClient | undefined;
  keyPrefix?: string;
  /** Waiting longer than this for a slot hands the job back to the queue instead (throttled). */
  maxWaitMs: number;
}

type RateLimiters = typeof import("rate-limiter-flexible");

/** Loaded only for a provider with a rate limit: most deployments have none, and it is 1.4 MB of heap. */
function rateLimiters(): RateLimiters {
  return createRequire(import.meta.url)("rate-limiter-flexible") as RateLimiters;
}

/**
 * Admission to one provider: a rate limit (shared through Redis when there is one) and a cap on
 * concurrent sends. A caller waits briefly for its turn; past `maxWaitMs` it gets a throttled error,
 * so the job goes back to the queue for later without using up an attempt.
 */
export class ProviderGate {
  readonly #options: ProviderGateOptions;
  readonly #limiter: RateLimiterMemory | RateLimiterRedis | undefined;
  readonly #rejection: RateLimiters["RateLimiterRes"] | undefined;
  readonly #semaphore: RedisSemaphore | undefined;
  #inFlight = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(options: ProviderGateOptions) {
    this.#options = options;
    if (options.ratePerSecond > 0) {
      const common = {
        points: options.ratePerSecond,
        duration: 1,
        keyPrefix: options.keyPrefix ?? "email-worker:rate",
      };
      const { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } = rateLimiters();
      this.#rejection = RateLimiterRes;
      this.#limiter = options.redis
        ? new RateLimiterRedis({ ...common, storeClient: options.redis })
        : new RateLimiterMemory(common);
    }
    if (options.redis && options.maxConcurrency > 0) {
      this.#semaphore = new RedisSemaphore({
        redis: options.redis,
        key: `${options.keyPrefix ?? "email-worker:rate"}:slots:${options.provider}`,
        limit: options.maxConcurrency,
        leaseMs: options.leaseMs,
      });
    }
  }

  /** Resolves with a release function once the send may go ahead. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    const deadline = Date.now() + this.#options.maxWaitMs;
    await this.#takeRate(deadline, signal);
    if (this.#semaphore) {
      const release = await this.#semaphore.acquire(deadline, signal);
      if (!release) throw this.#throttled(1_000);
      return release;
    }
    await this.#takeSlot(deadline, signal);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
      this.#waiting.shift()?.();
    };
  }

  async #takeRate(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    if (!this.#limiter) return;
    for (;;) {
      try {
        await this.#limiter.consume(this.#options.provider, 1);
        return;
      } catch (error) {
        if (!this.#rejection || !(error instanceof this.#rejection)) throw error;
        const wait = Math.max(error.msBeforeNext, 1);
        if (Date.now() + wait > deadline || signal?.aborted) throw this.#throttled(wait);
        await sleep(wait);
      }
    }
  }

  async #takeSlot(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const max = this.#options.maxConcurrency;
    while (max > 0 && this.#inFlight >= max) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal?.aborted) throw this.#throttled(1_000);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          const index = this.#waiting.indexOf(wake);
          if (index >= 0) this.#waiting.splice(index, 1);
          resolve();
        }, remaining);
        this.#waiting.push(wake);
      });
    }
    this.#inFlight++;
  }

  #throttled(retryAfterMs: number): DeliveryError {
    return new DeliveryError(
      "throttled",
      "rate_limited",
      `${this.#options.provider} is at its configured rate or concurrency limit`,
      {
        retryAfterMs,
      },
    );
  }
}
