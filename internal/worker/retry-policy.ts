interface RetryPolicyOptions {
  baseDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** 0: exact schedule; 0.2: each delay drawn from [80%, 100%] of the schedule. */
  jitter: number;
  random?: () => number;
}

/**
 * Exponential backoff with jitter: attempt n waits base × factor^(n-1), capped at the maximum, then
 * shortened by a random part of `jitter` so that failures which happened together do not come back
 * together. With jitter 0 the Go service's schedule (5m, 15m, 45m, 1h: base 5m, factor 3, cap 1h) is exact.
 */
export class RetryPolicy {
  readonly #options: RetryPolicyOptions;
  readonly #random: () => number;

  constructor(options: RetryPolicyOptions) {
    if (options.baseDelayMs < 0 || options.factor < 1 || options.maxDelayMs < options.baseDelayMs)
      throw new RangeError("retry policy needs base >= 0, factor >= 1 and max >= base");
    if (options.jitter < 0 || options.jitter > 1) throw new RangeError("retry jitter must be within [0, 1]");
    this.#options = options;
    this.#random = options.random ?? Math.random;
  }

  /** Delay before the attempt after failed attempt number `attempt` (1-based). */
  delayMs(attempt: number): number {
    const { baseDelayMs, factor, maxDelayMs, jitter } = this.#options;
    const scheduled = Math.min(maxDelayMs, baseDelayMs * factor ** Math.max(attempt - 1, 0));
    return Math.round(scheduled * (1 - jitter * this.#random()));
  }
}
