/** The label value every value past the limit shares. */
export const OTHER_LABEL = "other";

export interface LabelLimiterOptions {
  /** Values that always keep their own label, whatever else has been seen. */
  always: readonly string[];
  /** How many distinct values (those in `always` included) keep their own label. */
  max: number;
}

/**
 * Bounds a label whose values come from clients (a job's `type`): each distinct value is a new time
 * series in every metric carrying it, kept for the life of the process, so an unbounded set grows
 * memory and /metrics without end. Configured values keep their names, then the first ones seen up
 * to `max` in all; every later value is labelled `other`.
 */
export class LabelLimiter {
  readonly #known: Set<string>;
  readonly #max: number;

  constructor(options: LabelLimiterOptions) {
    this.#known = new Set(options.always);
    this.#max = options.max;
  }

  /** The label to record `value` under. */
  label(value: string): string {
    if (this.#known.has(value)) return value;
    if (this.#known.size >= this.#max) return OTHER_LABEL;
    this.#known.add(value);
    return value;
  }
}
