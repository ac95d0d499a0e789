/**
 * What a render thread is working on, in memory both threads see: the request's id (0 when idle) and
 * when it started. The thread answers a batch of requests in one message, so this is how the pool
 * times each request on its own, and knows which one to fail when it terminates the thread.
 */
export class ThreadProgress {
  readonly buffer: SharedArrayBuffer;
  readonly #slots: Float64Array;

  constructor(buffer = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.#slots = new Float64Array(buffer);
  }

  /** In the thread: `id` starts now. The time is written first, so a reader never pairs an id with an older start. */
  begin(id: number): void {
    this.#slots[1] = Date.now();
    this.#slots[0] = id;
  }

  /** In the thread: nothing is running. */
  idle(): void {
    this.#slots[0] = 0;
  }

  /** In the pool: the request running, if any, and since when (epoch ms). */
  current(): { id: number; startedAt: number } | undefined {
    const id = this.#slots[0] ?? 0;
    const startedAt = this.#slots[1] ?? 0;
    return id === 0 ? undefined : { id, startedAt };
  }
}
