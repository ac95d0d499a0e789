/**
 * Runs calls made close together as one statement: calls collected during a tick (and while the
 * previous statement is on the wire) go out together, and each caller gets its own result. Under
 * load, one round trip and one commit serve many jobs; alone, a call costs what it did.
 */
export class StatementBatcher<I, R> {
  readonly #run: (inputs: I[]) => Promise<R[]>;
  #pending: { input: I; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  #scheduled = false;
  #inFlight: Promise<void> = Promise.resolve();

  /** `run` returns one result per input, in the same order. */
  constructor(run: (inputs: I[]) => Promise<R[]>) {
    this.#run = run;
  }

  call(input: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ input, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      const previous = this.#inFlight;
      this.#inFlight = Promise.all([previous, new Promise((done) => setImmediate(done))]).then(() =>
        this.#flush(),
      );
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    this.#scheduled = false;
    try {
      const results = await this.#run(batch.map((c) => c.input));
      batch.forEach((c, i) => {
        c.resolve(results[i] as R);
      });
    } catch (error) {
      for (const c of batch) c.reject(error);
    }
  }
}
