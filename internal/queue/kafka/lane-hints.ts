import type { Admin, RecordMetadata } from "kafkajs";
import type { Logger } from "pino";
import { partitionKey } from "./kafka-delivery.ts";

interface LaneHintsOptions {
  admin: Admin;
  groupId: string;
  laneTopics: readonly string[];
  logger?: Logger | undefined;
}

/**
 * Other producers' messages on a partition not read yet show only in the admin offsets; a
 * refresh this often keeps such hints about as fresh as a metrics scrape would, without a round
 * trip per fetch.
 */
const REFRESH_MS = 5_000;

/**
 * What lane order knows of lane partitions before their messages arrive: where the group stands on
 * each and where each ends. kafkajs pushes batches partition by partition, so a lower lane's can come
 * before an urgent one's; with these a fetch can tell that urgent messages exist and wait a moment.
 * Ends come from batch high watermarks and this process's own writes, positions from the committed
 * offsets at every assignment; both from the admin offsets when lane order asks, at most every few
 * seconds.
 */
export class LaneHints {
  readonly #options: LaneHintsOptions;
  readonly #ends = new Map<string, number>();
  /** Where the group stands per partition, for partitions this consumer has not read yet. */
  readonly #starts = new Map<string, number>();
  #refreshedAt = 0;
  /** Numbers the loads, so that a slow one does not overwrite what a later one read. */
  #loads = 0;
  #loading = false;

  constructor(options: LaneHintsOptions) {
    this.#options = options;
  }

  /** The partition holds messages up to `end` (exclusive). */
  noteEnd(topic: string, partition: number, end: number): void {
    const key = partitionKey(topic, partition);
    if (end > (this.#ends.get(key) ?? 0)) this.#ends.set(key, end);
  }

  /** What this process wrote is known to exist before a fetch brings it. */
  noteWritten(records: readonly RecordMetadata[]): void {
    for (const record of records)
      this.noteEnd(record.topicName, record.partition, Number(record.baseOffset ?? -1) + 1);
  }

  /** Whether the partition holds messages from `next` on (or, not read yet, from where the group stands). */
  hasUnread(key: string, next: number | undefined): boolean {
    const from = next ?? this.#starts.get(key);
    const end = this.#ends.get(key);
    return from !== undefined && end !== undefined && end > from;
  }

  /**
   * After a rebalance: where the group stands on each lane partition (the committed offsets only,
   * one request, so that joining is not held up). Resolves, never rejects: these are only hints.
   */
  async loadStarts(): Promise<void> {
    const id = ++this.#loads;
    this.#refreshedAt = Date.now();
    const { admin, groupId, laneTopics } = this.#options;
    try {
      const commits = await admin.fetchOffsets({ groupId, topics: [...laneTopics] });
      if (id !== this.#loads) return;
      for (const { topic, partitions } of commits)
        for (const p of partitions)
          this.#starts.set(partitionKey(topic, p.partition), Math.max(Number(p.offset), 0));
    } catch (error) {
      this.#options.logger?.debug({ err: error }, "kafka: could not read committed offsets");
    }
  }

  /**
   * Refreshes positions and ends in the background when the last refresh is older than a few
   * seconds and none is under way. Its errors are logged: lane order only waits less for them.
   */
  refreshIfStale(): void {
    if (this.#loading || Date.now() - this.#refreshedAt < REFRESH_MS) return;
    this.#loading = true;
    void this.#load(++this.#loads).finally(() => {
      this.#loading = false;
    });
  }

  async #load(id: number): Promise<void> {
    this.#refreshedAt = Date.now();
    const { admin, groupId, laneTopics } = this.#options;
    try {
      const [commits, ...ends] = await Promise.all([
        admin.fetchOffsets({ groupId, topics: [...laneTopics] }),
        ...laneTopics.map((topic) => admin.fetchTopicOffsets(topic)),
      ]);
      if (id !== this.#loads) return;
      laneTopics.forEach((topic, i) => {
        const committed = commits.find((c) => c.topic === topic)?.partitions ?? [];
        for (const p of ends[i] ?? []) {
          const at = Number(committed.find((c) => c.partition === p.partition)?.offset ?? -1);
          this.#starts.set(partitionKey(topic, p.partition), at >= 0 ? at : Number(p.low));
          this.noteEnd(topic, p.partition, Number(p.high));
        }
      });
    } catch (error) {
      this.#options.logger?.debug({ err: error }, "kafka: could not read lane offsets");
    }
  }
}
