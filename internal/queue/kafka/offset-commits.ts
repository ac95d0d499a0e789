import type { Admin, Consumer } from "kafkajs";
import type { Logger } from "pino";
import { AckBatcher } from "../ack-batcher.ts";
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
}

/**
 * Commits each partition up to its first unfinished message, in batches. Every commit also records
 * how far this consumer had handed messages out, so that the partition's next owner flags those as
 * redelivered: Kafka itself does not know which messages a consumer was holding.
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
    for (const state of states) if (state.offsets.pendingCommit !== undefined) this.defer(state);
  }

  /** Offsets below the result were handed out by the partition's previous owner. */
  async redeliveredBelow(topic: string, partition: number): Promise<number> {
    try {
      const [committed] = await this.#options.admin.fetchOffsets({
        groupId: this.#options.groupId,
        topics: [topic],
      });
      const mark = committed?.partitions.find((p) => p.partition === partition)?.metadata;
      return mark ? Number((JSON.parse(mark) as CommitMark).handed ?? 0) || 0 : 0;
    } catch {
      // Only a hint; delivery does not depend on it.
      return 0;
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
      const offset = options.always ? state.offsets.committable : state.offsets.pendingCommit;
      if (offset === undefined || !state.current) continue;
      committing.set(state, offset);
      const mark: CommitMark = { handed: state.offsets.next };
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
      // A rebalance is under way: the partitions that stay ours commit on their next finish.
      this.#options.logger?.warn({ err: error }, "kafka: commit failed; retried with the next one");
    }
  }
}
