import type { Admin, Consumer } from "kafkajs";
import type { Logger } from "pino";
import { AckBatcher } from "../ack-batcher.ts";
import { firstUnfinishedDeliveries, NO_PREVIOUS_OWNERS, type PreviousOwners } from "./delivery-count.ts";
import type { AssignedPartition } from "./kafka-delivery.ts";

interface OffsetCommitsOptions {
  consumer: Consumer;
  admin: Admin;
  groupId: string;
  logger?: Logger | undefined;
}

/** What a commit records beside its offset. */
interface CommitMark {
  /** How far the committing consumer had handed messages out. */
  handed?: number;
  /** How often the message at the committed offset was handed out (by every owner so far). */
  deliveries?: number;
}

/**
 * Commits each partition up to its first unfinished message, in batches. Every commit also records
 * how far this consumer had handed messages out, so that the partition's next owner flags those as
 * redelivered, and how often the first unfinished message was handed out, so that one that never
 * finishes is dead-lettered at last: Kafka itself does not know which messages a consumer was holding.
 */
export class OffsetCommits {
  readonly #options: OffsetCommitsOptions;
  readonly #batcher = new AckBatcher<AssignedPartition>((states) => this.#commit(states));

  constructor(options: OffsetCommitsOptions) {
    this.#options = options;
  }

  /**
   * The partition's committable offset moved. The worker moves on; the commit follows in the next
   * batch. If it never lands, the messages are delivered again, as after a crash.
   */
  defer(state: AssignedPartition): void {
    this.#batcher.defer(state);
  }

  /** After a rebalance: commits refused while the group rebalanced are made for those that stayed. */
  retryRefused(states: Iterable<AssignedPartition>): void {
    for (const state of states)
      if (state.offsets.pendingCommit !== undefined || state.deliveriesUnrecorded) this.defer(state);
  }

  /**
   * The first unfinished message was handed out again: its count is committed (with the offset
   * already committed) before it goes to a worker, so that a crash does not lose it.
   */
  record(state: AssignedPartition): Promise<void> {
    state.deliveriesUnrecorded = true;
    return this.#batcher.add(state);
  }

  /** What the partition's previous owners recorded in their last commit. */
  async previousOwners(topic: string, partition: number): Promise<PreviousOwners> {
    try {
      const [committed] = await this.#options.admin.fetchOffsets({
        groupId: this.#options.groupId,
        topics: [topic],
      });
      const found = committed?.partitions.find((p) => p.partition === partition);
      return found?.metadata ? previousOwnersOf(Number(found.offset), found.metadata) : NO_PREVIOUS_OWNERS;
    } catch {
      // Only a hint: delivery does not depend on it (the count starts again).
      return NO_PREVIOUS_OWNERS;
    }
  }

  /**
   * Before leaving the group: what finished is committed, with how far this consumer handed
   * messages out; what is unfinished goes to the next owner.
   */
  async final(states: readonly AssignedPartition[]): Promise<void> {
    // A commit retrying through a rebalance must not hold shutdown for long.
    await Promise.race([this.#batcher.drain(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    await this.#commit(states, { always: true }).catch((error: unknown) =>
      this.#options.logger?.warn({ err: error }, "kafka: final commit failed; the next owner redelivers"),
    );
  }

  async #commit(states: readonly AssignedPartition[], options: { always?: boolean } = {}): Promise<void> {
    const offsets = [];
    const committing = new Map<AssignedPartition, number>();
    for (const state of new Set(states)) {
      const offset =
        options.always || state.deliveriesUnrecorded
          ? state.offsets.committable
          : state.offsets.pendingCommit;
      if (offset === undefined || !state.current) continue;
      committing.set(state, offset);
      state.deliveriesUnrecorded = false;
      const mark: CommitMark = { handed: state.offsets.next, deliveries: firstUnfinishedDeliveries(state) };
      offsets.push({
        topic: state.topic,
        partition: state.partition,
        offset: String(offset),
        metadata: JSON.stringify(mark),
      });
    }
    if (offsets.length === 0) return;
    try {
      await this.#options.consumer.commitOffsets(offsets);
      for (const [state, offset] of committing) state.offsets.committed(offset);
    } catch (error) {
      // A rebalance is under way: the partitions that stay ours commit on their next finish (or
      // right after the rebalance), delivery counts included.
      for (const state of committing.keys()) state.deliveriesUnrecorded = true;
      this.#options.logger?.warn({ err: error }, "kafka: commit failed; retried with the next one");
    }
  }
}

/** Reads a commit's metadata; a mark from before delivery counts counts what it handed out once. */
function previousOwnersOf(offset: number, metadata: string): PreviousOwners {
  try {
    const mark = JSON.parse(metadata) as CommitMark;
    const handedBelow = Number(mark.handed ?? 0) || 0;
    const deliveries = Number(mark.deliveries ?? (offset < handedBelow ? 1 : 0)) || 0;
    return { handedBelow, offset, deliveries };
  } catch {
    return NO_PREVIOUS_OWNERS;
  }
}
