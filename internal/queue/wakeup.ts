/**
 * Fetches waiting for work in this process: each waits until woken (a local publish, messages
 * arriving), its time is up, or its caller stops it.
 */
export class Wakeup {
  readonly #waiting = new Set<() => void>();

  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiting.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  wakeAll(): void {
    for (const wake of this.#waiting) wake();
  }
}
