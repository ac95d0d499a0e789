import { LANES, type Lane } from "../../job/priority.ts";
import { deadLetterReason } from "../dead-letter-reason.ts";
import { FairShare } from "../fair-share.ts";
import {
  type DeadLetter,
  DeadLetterPositionError,
  type Delivery,
  type JobQueue,
  type QueueMessage,
  type QueueStats,
  type RetryRequest,
} from "../queue.ts";
import { Wakeup } from "../wakeup.ts";

interface Entry {
  id: string;
  lane: Lane;
  body: string;
  attempt: number;
  redelivered: boolean;
  enqueuedAt: number;
  /** Times handed out without being finished. */
  deliveries: number;
}

interface Held {
  entry: Entry;
  /** When the consumer's hold runs out and the entry may go to another one. */
  visibleAt: number;
}

/**
 * What one Redis or one queue table holds, shared by every MemoryQueue consumer made on it: the
 * lanes, the messages handed out and not finished, the delayed set and the dead letters.
 */
export class MemoryQueueState {
  readonly lanes: Record<Lane, Entry[]> = { critical: [], high: [], normal: [], low: [] };
  readonly held = new Map<string, Held>();
  readonly delayed: { entry: Entry; runAt: number }[] = [];
  readonly dead = new Map<string, DeadLetter>();
  readonly arrivals = new Wakeup();
  #nextId = 0;
  #nextDeadPosition = 0;

  newEntry(lane: Lane, body: string, attempt: number): Entry {
    return {
      id: String(++this.#nextId),
      lane,
      body,
      attempt,
      redelivered: false,
      enqueuedAt: Date.now(),
      deliveries: 0,
    };
  }

  /**
   * The next dead letter's place in the order. Entry ids are handed out at publish, not at burial,
   * so they do not order the dead letters; and a page must follow a letter replayed meanwhile.
   */
  newDeadPosition(): string {
    return String(++this.#nextDeadPosition);
  }
}

interface MemoryQueueOptions {
  /** Shared with the other consumers of the same queue. */
  state: MemoryQueueState;
  visibilityTimeoutMs: number;
  pollIntervalMs: number;
  fairShare: number;
  /** An entry handed out this many times without being finished is dead-lettered; absent: no cap. */
  maxDeliveries?: number | undefined;
}

/**
 * A JobQueue in this process's memory, passing the same contract suite as the real drivers: for
 * testing what sits above the queue (the processor, the service) in milliseconds. It keeps nothing
 * across restarts and is never a production driver.
 */
export class MemoryQueue implements JobQueue {
  readonly driver = "memory";
  /** Open to tests, which look at what waits where. */
  readonly state: MemoryQueueState;
  readonly #visibilityTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #fairShare: FairShare;
  readonly #maxDeliveries: number;
  #closed = false;

  constructor(options: MemoryQueueOptions) {
    this.state = options.state;
    this.#visibilityTimeoutMs = options.visibilityTimeoutMs;
    this.#pollIntervalMs = options.pollIntervalMs;
    this.#fairShare = new FairShare(options.fairShare);
    this.#maxDeliveries = options.maxDeliveries ?? Number.POSITIVE_INFINITY;
  }

  async init(): Promise<void> {}

  async publish(messages: readonly QueueMessage[]): Promise<void> {
    const now = Date.now();
    for (const message of messages) {
      const entry = this.state.newEntry(message.lane, message.body, message.attempt ?? 0);
      const runAt = message.run_at?.getTime();
      if (runAt !== undefined && runAt > now) this.state.delayed.push({ entry, runAt });
      else this.state.lanes[message.lane].push(entry);
    }
    this.state.arrivals.wakeAll();
  }

  async fetch(max: number, signal?: AbortSignal): Promise<Delivery[]> {
    const deadline = Date.now() + this.#pollIntervalMs;
    for (;;) {
      if (max <= 0 || signal?.aborted || this.#closed) return [];
      const out = [...this.#takeExpired(max), ...this.#takeFromLanes(max)].slice(0, max);
      if (out.length > 0) return out;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await this.state.arrivals.wait(left, signal);
    }
  }

  async ack(delivery: Delivery): Promise<void> {
    this.state.held.delete(delivery.id);
  }

  async retry(delivery: Delivery, next: RetryRequest): Promise<void> {
    this.state.held.delete(delivery.id);
    const entry = this.state.newEntry(delivery.lane, next.body, next.attempt);
    this.state.delayed.push({ entry, runAt: next.run_at.getTime() });
  }

  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    this.#bury(delivery, reason);
  }

  #bury(delivery: Delivery, reason: string): void {
    this.state.held.delete(delivery.id);
    this.state.dead.set(delivery.id, {
      id: delivery.id,
      lane: delivery.lane,
      body: delivery.body,
      reason,
      attempt: delivery.attempt,
      failed_at: new Date(),
      position: this.state.newDeadPosition(),
    });
  }

  async promoteDue(): Promise<number> {
    const now = Date.now();
    const { delayed, lanes } = this.state;
    const due = delayed.filter((d) => d.runAt <= now);
    if (due.length === 0) return 0;
    delayed.splice(0, delayed.length, ...delayed.filter((d) => d.runAt > now));
    for (const { entry, runAt } of due.sort((a, b) => a.runAt - b.runAt)) {
      // Waiting starts when it falls due, as in Redis, where a due job is added to its stream then.
      entry.enqueuedAt = runAt;
      lanes[entry.lane].push(entry);
    }
    this.state.arrivals.wakeAll();
    return due.length;
  }

  async stats(): Promise<QueueStats> {
    const { lanes, held, delayed, dead } = this.state;
    return {
      lanes: {
        critical: lanes.critical.length,
        high: lanes.high.length,
        normal: lanes.normal.length,
        low: lanes.low.length,
      },
      in_flight: held.size,
      delayed: delayed.length,
      dead: dead.size,
    };
  }

  async listDeadLetters(limit: number, after?: string): Promise<DeadLetter[]> {
    if (after !== undefined && !/^\d+$/.test(after)) throw new DeadLetterPositionError(after);
    // The map keeps burial order, which is also the order of the positions.
    const newestFirst = [...this.state.dead.values()].reverse();
    const older =
      after === undefined ? newestFirst : newestFirst.filter((l) => Number(l.position) < Number(after));
    return older.slice(0, limit);
  }

  async replayDeadLetter(id: string): Promise<boolean> {
    const letter = this.state.dead.get(id);
    if (!letter) return false;
    this.state.dead.delete(id);
    await this.publish([{ body: letter.body, lane: letter.lane }]);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.state.arrivals.wakeAll();
  }

  /** Messages whose consumer held them past the visibility timeout, handed out again. */
  #takeExpired(max: number): Delivery[] {
    const now = Date.now();
    const out: Delivery[] = [];
    for (const held of this.state.held.values()) {
      if (out.length >= max) break;
      if (held.visibleAt > now) continue;
      if (held.entry.deliveries >= this.#maxDeliveries) {
        this.#bury(held.entry, deadLetterReason.deliveryCap(held.entry.deliveries));
        continue;
      }
      held.entry.redelivered = true;
      out.push(this.#hold(held.entry));
    }
    return out;
  }

  #takeFromLanes(max: number): Delivery[] {
    const taken: Entry[] = [];
    const plan = this.#fairShare.plan(max);
    const take = (lane: Lane, count: number) => taken.push(...this.state.lanes[lane].splice(0, count));
    if (plan.reserved) take(plan.reserved.lane, plan.reserved.count);
    for (const lane of plan.order) {
      if (taken.length >= max) break;
      take(lane, max - taken.length);
    }
    return taken
      .sort((a, b) => LANES.indexOf(a.lane) - LANES.indexOf(b.lane))
      .map((entry) => this.#hold(entry));
  }

  #hold(entry: Entry): Delivery {
    entry.deliveries++;
    this.state.held.set(entry.id, { entry, visibleAt: Date.now() + this.#visibilityTimeoutMs });
    const { id, lane, body, attempt, redelivered, enqueuedAt } = entry;
    return { id, lane, body, attempt, redelivered, enqueuedAt };
  }
}
