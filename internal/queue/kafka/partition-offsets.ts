/**
 * Commit bookkeeping for one partition. Messages are handed out in offset order but finish in any
 * order; the offset committed to Kafka is the first one not yet finished, so a crash redelivers
 * everything unfinished and nothing finished is committed past.
 */
export class PartitionOffsets {
  /** Started offsets in ascending order, from `#head` on; finished ones are in `#finished`. */
  #started: number[] = [];
  #head = 0;
  readonly #finished = new Set<number>();
  /** Next offset to commit: everything below it is finished. */
  #committable: number;
  /** The committable offset as last committed (or as found at assignment). */
  #committed: number;

  constructor(committed: number) {
    this.#committable = committed;
    this.#committed = committed;
  }

  /** The next offset this partition expects to hand out (everything below was seen). */
  get next(): number {
    const last = this.#started.at(-1);
    return last === undefined ? this.#committable : Math.max(last + 1, this.#committable);
  }

  /** Handed out (or buffered to be) and not finished. */
  get unfinished(): number {
    return this.#started.length - this.#head - this.#finished.size;
  }

  /** Whether this offset was already seen here (a refetch after a rebalance or a resume). */
  seen(offset: number): boolean {
    return offset < this.next;
  }

  start(offset: number): void {
    if (offset < this.next) throw new RangeError(`offset ${offset} started twice (next is ${this.next})`);
    this.#started.push(offset);
  }

  /** Marks an offset finished; true when the committable offset moved. */
  finish(offset: number): boolean {
    if (offset < this.#committable || this.#finished.has(offset)) return false;
    this.#finished.add(offset);
    const before = this.#committable;
    while (this.#head < this.#started.length) {
      const first = this.#started[this.#head] as number;
      if (!this.#finished.delete(first)) break;
      this.#head++;
      this.#committable = first + 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#started.length) {
      this.#started = this.#started.slice(this.#head);
      this.#head = 0;
    }
    return this.#committable !== before;
  }

  /** Everything below this offset is finished. */
  get committable(): number {
    return this.#committable;
  }

  /** The offset to commit when it moved since the last commit, else undefined. */
  get pendingCommit(): number | undefined {
    return this.#committable === this.#committed ? undefined : this.#committable;
  }

  committed(offset: number): void {
    if (offset > this.#committed) this.#committed = offset;
  }
}
