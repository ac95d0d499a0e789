/**
 * Collects finished items and flushes them together: many jobs finishing at once cost one round
 * trip to the queue, not one each. At most one flush is on the wire; what finishes meanwhile waits
 * for it and goes in the next, so the busier the queue the bigger the batches. Every caller's
 * promise settles with its batch's flush.
 */
export class AckBatcher<T> {
  readonly #flush: (items: T[]) => Promise<void>;
  readonly #onDeferredError: ((error: unknown) => void) | undefined;
  /** Batches whose failure is already being reported (one report per batch, not per item). */
  readonly #watched = new WeakSet<Promise<void>>();
  #pending: T[] = [];
  /** The batch being collected: flushed after the current tick and the flush on the wire. */
  #next: Promise<void> | undefined;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(flush: (items: T[]) => Promise<void>, onDeferredError?: (error: unknown) => void) {
    this.#flush = flush;
    this.#onDeferredError = onDeferredError;
  }

  /**
   * Adds an item without waiting for its flush, for queues where an acknowledgement that never
   * lands only means the message is delivered again. A failed flush is reported once.
   */
  defer(item: T): void {
    const batch = this.add(item);
    if (this.#watched.has(batch)) return;
    this.#watched.add(batch);
    batch.catch((error: unknown) => this.#onDeferredError?.(error));
  }

  add(item: T): Promise<void> {
    this.#pending.push(item);
    if (!this.#next) {
      const previous = this.#inFlight;
      const next = Promise.all([
        previous.catch(() => {}),
        new Promise((resolve) => setImmediate(resolve)),
      ]).then(() => {
        const batch = this.#pending;
        this.#pending = [];
        this.#next = undefined;
        return this.#flush(batch);
      });
      this.#next = next;
      this.#inFlight = next;
    }
    return this.#next;
  }

  /** Waits for the flushes in progress, if any. */
  async drain(): Promise<void> {
    await this.#next?.catch(() => {});
    await this.#inFlight.catch(() => {});
  }
}
