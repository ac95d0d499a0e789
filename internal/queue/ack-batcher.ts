/**
 * Collects items handed in during one turn of the event loop and flushes them together: many jobs
 * finishing at once cost one round trip to the queue, not one each. Every caller's promise settles
 * with its batch's flush.
 */
export class AckBatcher<T> {
  readonly #flush: (items: T[]) => Promise<void>;
  #pending: T[] = [];
  #flushing: Promise<void> | undefined;

  constructor(flush: (items: T[]) => Promise<void>) {
    this.#flush = flush;
  }

  add(item: T): Promise<void> {
    this.#pending.push(item);
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const batch = this.#pending;
      this.#pending = [];
      this.#flushing = undefined;
      return this.#flush(batch);
    });
    return this.#flushing;
  }

  /** Waits for the flush in progress, if any. */
  async drain(): Promise<void> {
    await this.#flushing;
  }
}
