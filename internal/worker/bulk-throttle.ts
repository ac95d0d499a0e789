import type { Lane } from "../job/priority.ts";

/** Lanes whose jobs the throttle makes room for: the transactional mail a campaign must not hold up. */
const PROTECTED_LANES: ReadonlySet<Lane> = new Set(["critical", "high"]);
/** The lane that gives way: bulk mail, campaigns by default. */
export const BULK_LANE: Lane = "low";

interface BulkThrottleOptions {
  /** The pool's slots: bulk jobs may use all of them while nothing needs room. */
  concurrency: number;
  /** Share of the slots bulk jobs may work in while critical or high jobs are being sent (0..1]. */
  share: number;
  /** How long after the last critical or high job bulk jobs stay held to their share. */
  protectForMs?: number;
}

/**
 * How many of the worker pool's slots low-priority (bulk) jobs may work in at once. A campaign sent
 * at full speed keeps the process and the machine busy, and a critical email waits behind that work
 * at every step: its request, its queue read, its SMTP write, the database's answers. So while
 * critical or high jobs are being sent (one taken within `protectForMs`), bulk jobs work in at most
 * `share` of the slots (at least one); otherwise in all of them. It is a fixed share rather than one
 * steered by latency: a slow provider makes every send slow, and holding back a campaign would not
 * make that faster.
 */
export class BulkThrottle {
  readonly #concurrency: number;
  readonly #shared: number;
  readonly #protectForMs: number;
  #protectedUntil = Number.NEGATIVE_INFINITY;

  constructor(options: BulkThrottleOptions) {
    if (options.concurrency < 1) throw new RangeError("concurrency must be >= 1");
    if (!(options.share > 0 && options.share <= 1)) throw new RangeError("share must be within (0, 1]");
    this.#concurrency = options.concurrency;
    this.#shared = Math.max(1, Math.floor(options.concurrency * options.share));
    this.#protectForMs = options.protectForMs ?? 60_000;
  }

  /** Bulk jobs that may work at once at `now`. */
  limit(now: number): number {
    return now <= this.#protectedUntil ? this.#shared : this.#concurrency;
  }

  /** A job of `lane` was taken off the queue at `now`. */
  noteJob(lane: Lane, now: number): void {
    if (PROTECTED_LANES.has(lane)) this.#protectedUntil = now + this.#protectForMs;
  }
}
