export interface SignInThrottleOptions {
  /** Failed sign-ins one address may make per window before it must wait. */
  maxFailures: number;
  windowMs: number;
  /** Addresses remembered at once; past it the oldest are forgotten, so a flood cannot grow memory. */
  maxAddresses?: number;
  now?: () => number;
}

/**
 * Slows guessing of API keys through the console's sign-in: an address that failed `maxFailures`
 * times within a window is turned away until the window ends. The address is the connection's: behind
 * a proxy, every user shares the proxy's, and one guesser slows sign-in for all of them. Keys are long random strings, so this
 * is about noise and load more than odds; it is per process, which is enough for both.
 */
export class SignInThrottle {
  readonly #options: Required<SignInThrottleOptions>;
  readonly #failures = new Map<string, { count: number; since: number }>();

  constructor(options: SignInThrottleOptions) {
    this.#options = { maxAddresses: 10_000, now: Date.now, ...options };
  }

  /**
   * Counts a sign-in by `address` before it is checked (so guesses sent in parallel are all counted);
   * `succeeded` takes it back. Answers the seconds until it may try again, 0 when it may now.
   */
  attempt(address: string): number {
    const entry = this.#current(address);
    if (entry && entry.count >= this.#options.maxFailures)
      return Math.ceil((entry.since + this.#options.windowMs - this.#options.now()) / 1000);
    this.#count(address);
    return 0;
  }

  #count(address: string): void {
    const entry = this.#current(address) ?? { count: 0, since: this.#options.now() };
    entry.count++;
    // Re-inserted last, so the map's order is oldest first.
    this.#failures.delete(address);
    this.#failures.set(address, entry);
    if (this.#failures.size > this.#options.maxAddresses) {
      const oldest = this.#failures.keys().next().value;
      if (oldest !== undefined) this.#failures.delete(oldest);
    }
  }

  succeeded(address: string): void {
    this.#failures.delete(address);
  }

  #current(address: string) {
    const entry = this.#failures.get(address);
    if (entry && entry.since + this.#options.windowMs <= this.#options.now()) {
      this.#failures.delete(address);
      return undefined;
    }
    return entry;
  }
}
