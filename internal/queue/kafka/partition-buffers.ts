import { LANES, type Lane } from "../../job/priority.ts";
import { FairShare } from "../fair-share.ts";
import { Wakeup } from "../wakeup.ts";
import type { BatchTurn } from "./batch-consumer.ts";
import type { PreviousOwners } from "./delivery-count.ts";
import { type AssignedPartition, type KafkaDelivery, kafkaDelivery, partitionKey } from "./kafka-delivery.ts";
import type { LaneHints } from "./lane-hints.ts";
import { PartitionOffsets } from "./partition-offsets.ts";

interface PartitionBuffersOptions {
  laneOfTopic: ReadonlyMap<string, Lane>;
  hints: LaneHints;
  pollIntervalMs: number;
  fairShare: number;
  maxInFlightPerPartition: number;
  /** What the partition's previous owners recorded (how far they handed out, delivery count). */
  previousOwners(topic: string, partition: number): Promise<PreviousOwners>;
}

/**
 * Holds what kafkajs pushed until the worker pool pulls it: one buffer per lane, handed out most
 * urgent first with the fair share for the lower lanes. A partition whose unfinished messages reach
 * `maxInFlightPerPartition` is paused until they drain, so the fetcher (which waits for every batch
 * of a fetch) never blocks on a full lane and a busy lower lane cannot hold back an urgent one.
 */
export class PartitionBuffers {
  readonly #options: PartitionBuffersOptions;
  readonly #fairShare: FairShare;
  readonly #partitions = new Map<string, AssignedPartition>();
  readonly #buffers: Record<Lane, KafkaDelivery[]> = { critical: [], high: [], normal: [], low: [] };
  readonly #handedOut: Record<Lane, number> = { critical: 0, high: 0, normal: 0, low: 0 };
  /** The lane partitions this consumer holds since the last rebalance, by key. */
  #assigned = new Map<string, Lane>();
  readonly #arrivals = new Wakeup();
  #closed = false;

  constructor(options: PartitionBuffersOptions) {
    this.#options = options;
    this.#fairShare = new FairShare(options.fairShare);
  }

  /** Handed out and not finished, per lane. */
  handedOut(): Record<Lane, number> {
    return { ...this.#handedOut };
  }

  /** The partitions this consumer holds now. */
  held(): AssignedPartition[] {
    return [...this.#partitions.values()].filter((state) => state.current);
  }

  /** Takes a batch into its lane's buffer, pausing the partition when it holds enough. */
  async take({ batch, live, resolveOffset, pause }: BatchTurn): Promise<void> {
    const lane = this.#options.laneOfTopic.get(batch.topic);
    if (!lane || this.#closed) return;
    this.#options.hints.noteEnd(batch.topic, batch.partition, Number(batch.highWatermark));
    const first = batch.messages[0];
    if (!first) return;
    const state =
      this.#partitions.get(partitionKey(batch.topic, batch.partition)) ??
      (await this.#open(batch.topic, batch.partition, lane, Number(first.offset)));
    let taken = 0;
    for (const message of batch.messages) {
      if (!live() || !state.current) break;
      if (state.offsets.seen(Number(message.offset))) {
        // Fetched again after a rebalance or resume: it is here already (or finished).
        resolveOffset(message.offset);
        continue;
      }
      if (state.offsets.unfinished >= this.#options.maxInFlightPerPartition) {
        state.resume ??= pause();
        break;
      }
      state.offsets.start(Number(message.offset));
      this.#buffers[lane].push(kafkaDelivery(state, message));
      resolveOffset(message.offset);
      taken++;
    }
    if (taken > 0) this.#arrivals.wakeAll();
  }

  /** After every rebalance: partitions no longer ours finish without committing. */
  assign(assignment: Record<string, number[]>): void {
    const assigned = new Map<string, Lane>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      const lane = this.#options.laneOfTopic.get(topic);
      if (lane) for (const partition of partitions) assigned.set(partitionKey(topic, partition), lane);
    }
    this.#assigned = assigned;
    for (const [key, state] of this.#partitions) {
      if (assigned.has(key)) continue;
      state.current = false;
      this.#partitions.delete(key);
      state.resume?.();
      // Buffered and never handed out: the next owner will read them, so they are dropped here.
      this.#buffers[state.lane] = this.#buffers[state.lane].filter((d) => d.state !== state);
    }
  }

  async fetch(max: number, signal?: AbortSignal): Promise<KafkaDelivery[]> {
    if (max <= 0 || signal?.aborted) return [];
    const deadline = Date.now() + this.#options.pollIntervalMs;
    let waitedForUrgent = false;
    for (;;) {
      // Messages of a more urgent lane are known to be on their way: wait a moment for them.
      if (!waitedForUrgent && this.#urgentNotBuffered()) {
        waitedForUrgent = true;
        await this.#arrivals.wait(Math.min(100, Math.max(deadline - Date.now(), 0)), signal);
        continue;
      }
      const out = this.#hand(max);
      if (out.length > 0 || signal?.aborted || this.#closed) return out;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await this.#arrivals.wait(left, signal);
    }
  }

  /**
   * The delivery finished (sent, failed, retried or dead-lettered). Returns its partition when the
   * offset to commit moved and the partition is still ours.
   */
  finish(delivery: KafkaDelivery): AssignedPartition | undefined {
    const { state } = delivery;
    this.#handedOut[delivery.lane] = Math.max(this.#handedOut[delivery.lane] - 1, 0);
    if (!state.offsets.finish(delivery.offset) || !state.current) return undefined;
    if (state.resume && state.offsets.unfinished <= this.#options.maxInFlightPerPartition / 2) {
      const resume = state.resume;
      state.resume = undefined;
      resume();
    }
    return state;
  }

  /** Wakes the fetches waiting and drops what was never handed out: the next owner reads it. */
  close(): void {
    this.#closed = true;
    this.#arrivals.wakeAll();
    for (const lane of LANES) this.#buffers[lane] = [];
  }

  async #open(topic: string, partition: number, lane: Lane, firstOffset: number): Promise<AssignedPartition> {
    const state: AssignedPartition = {
      key: partitionKey(topic, partition),
      topic,
      partition,
      lane,
      offsets: new PartitionOffsets(firstOffset),
      previous: await this.#options.previousOwners(topic, partition),
      handedBelow: 0,
      deliveriesUnrecorded: false,
      current: true,
      resume: undefined,
    };
    this.#partitions.set(state.key, state);
    return state;
  }

  #hand(max: number): KafkaDelivery[] {
    const out: KafkaDelivery[] = [];
    const plan = this.#fairShare.plan(max);
    const takeFrom = (lane: Lane, count: number) => {
      const taken = this.#buffers[lane].splice(0, count);
      this.#handedOut[lane] += taken.length;
      for (const { state, offset } of taken) state.handedBelow = Math.max(state.handedBelow, offset + 1);
      out.push(...taken);
    };
    if (plan.reserved) takeFrom(plan.reserved.lane, plan.reserved.count);
    for (const lane of plan.order) {
      if (out.length >= max) break;
      takeFrom(lane, max - out.length);
    }
    return out.sort((a, b) => LANES.indexOf(a.lane) - LANES.indexOf(b.lane));
  }

  /** True when a lane more urgent than anything buffered has messages not read yet. */
  #urgentNotBuffered(): boolean {
    const firstBuffered = LANES.findIndex((lane) => this.#buffers[lane].length > 0);
    if (firstBuffered <= 0) return false;
    this.#options.hints.refreshIfStale();
    for (const [key, lane] of this.#assigned) {
      if (LANES.indexOf(lane) >= firstBuffered) continue;
      const state = this.#partitions.get(key);
      if (state?.resume) continue;
      if (this.#options.hints.hasUnread(key, state?.offsets.next)) return true;
    }
    return false;
  }
}
