import type { Admin, Consumer, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { LANES, type Lane } from "../../job/priority.ts";
import { deadLetterReason } from "../dead-letter-reason.ts";
import type { DeadLetter, Delivery, JobQueue, QueueMessage, QueueStats, RetryRequest } from "../queue.ts";
import { createBatchConsumer, runBatches } from "./batch-consumer.ts";
import { ConsumerRevival, consumerDownError } from "./consumer-revival.ts";
import { DeadLetters } from "./dead-letters.ts";
import { firstUnfinishedDeliveries } from "./delivery-count.ts";
import type { KafkaDelivery } from "./kafka-delivery.ts";
import { LaneHints } from "./lane-hints.ts";
import { OffsetCommits } from "./offset-commits.ts";
import { PartitionBuffers } from "./partition-buffers.ts";
import { QueueProducer } from "./queue-producer.ts";
import { readQueueStats } from "./queue-stats.ts";
import { RetryRelay } from "./retry-relay.ts";
import { allTopics, ensureTopics, type KafkaTopics, kafkaTopics } from "./topics.ts";

export interface KafkaQueueOptions {
  kafka: Kafka;
  /** Lane topics are `<name>.critical` … `<name>.low`. */
  name: string;
  groupId: string;
  /** Empty or absent: `<name>.retry`. */
  retryTopic?: string | undefined;
  /** Empty or absent: `<name>.dead`. */
  deadLetterTopic?: string | undefined;
  pollIntervalMs: number;
  fairShare: number;
  maxInFlightPerPartition: number;
  sessionTimeoutMs: number;
  retryHorizonMs: number;
  /**
   * A partition's first unfinished message handed out this many times (across owners) without being
   * finished is dead-lettered instead of being handed out again.
   */
  maxDeliveries: number;
  /** Creates the topics at init (admin client); otherwise they must exist or be auto-created. */
  createTopics?: { partitions: number; replicationFactor: number } | undefined;
  /**
   * False: this process only publishes (the `api` role). It does not join the lanes' consumer group,
   * where it would hold partitions it never reads; the retry relay still runs, so retries come due
   * even while no worker runs.
   */
  consume?: boolean | undefined;
  logger?: Logger | undefined;
}

/**
 * The `kafka` queue: one topic per lane read by one consumer group, a retry topic whose messages
 * wait for their due time (see RetryRelay), and a dead-letter topic. Producers in any language
 * write the job's JSON to `<name>.<lane>`.
 *
 * kafkajs pushes batches; the worker pool pulls with `fetch`. PartitionBuffers sits in between and
 * hands out in lane order; OffsetCommits commits each partition up to its first unfinished message
 * once the job finished (sent, failed, retried or dead-lettered).
 */
export class KafkaQueue implements JobQueue {
  readonly driver = "kafka";
  readonly topics: KafkaTopics;
  readonly #options: KafkaQueueOptions;
  readonly #producer: QueueProducer;
  readonly #consumer: Consumer;
  readonly #admin: Admin;
  readonly #relay: RetryRelay;
  readonly #hints: LaneHints;
  readonly #buffers: PartitionBuffers;
  readonly #commits: OffsetCommits;
  readonly #deadLetters: DeadLetters;
  readonly #joined: Promise<void>;
  #onJoin: () => void = () => {};
  /** Starts the lanes' consumer again after a crash kafkajs leaves it stopped; none when publishing only. */
  #revival: ConsumerRevival | undefined;
  #closed = false;

  constructor(options: KafkaQueueOptions) {
    const { kafka, groupId, logger } = options;
    this.#options = options;
    this.topics = kafkaTopics(options.name, { retry: options.retryTopic, dead: options.deadLetterTopic });
    const laneTopics = LANES.map((lane) => this.topics.lanes[lane]);
    this.#producer = new QueueProducer(kafka, this.topics);
    this.#consumer = createBatchConsumer(kafka, {
      groupId,
      sessionTimeoutMs: options.sessionTimeoutMs,
      maxWaitTimeInMs: Math.min(options.pollIntervalMs, 1_000),
    });
    this.#admin = kafka.admin();
    this.#relay = new RetryRelay({
      kafka,
      producer: this.#producer.producer,
      topics: this.topics,
      groupId: `${groupId}.retry`,
      sessionTimeoutMs: options.sessionTimeoutMs,
      pollIntervalMs: Math.min(options.pollIntervalMs, 250),
      horizonMs: options.retryHorizonMs,
      logger,
    });
    this.#hints = new LaneHints({ admin: this.#admin, groupId, laneTopics, logger });
    this.#commits = new OffsetCommits({ consumer: this.#consumer, admin: this.#admin, groupId, logger });
    this.#buffers = new PartitionBuffers({
      laneOfTopic: new Map(LANES.map((lane) => [this.topics.lanes[lane], lane] as [string, Lane])),
      hints: this.#hints,
      pollIntervalMs: options.pollIntervalMs,
      fairShare: options.fairShare,
      maxInFlightPerPartition: options.maxInFlightPerPartition,
      previousOwners: (topic, partition) => this.#commits.previousOwners(topic, partition),
    });
    const producer = this.#producer.producer;
    this.#deadLetters = new DeadLetters({
      kafka,
      admin: this.#admin,
      producer,
      topics: this.topics,
      groupId,
    });
    this.#joined = new Promise((resolve) => {
      this.#onJoin = resolve;
    });
  }

  async init(): Promise<void> {
    await this.#admin.connect();
    await ensureTopics(this.#admin, allTopics(this.topics), this.#options.createTopics);
    await this.#producer.producer.connect();
    if (this.#options.consume === false) {
      await this.#relay.start();
      return;
    }
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) =>
      this.#join(payload.memberAssignment),
    );
    this.#revival = new ConsumerRevival(this.#consumer, {
      name: "kafka consumer",
      start: () => this.#run(),
      logger: this.#options.logger,
    });
    await this.#consumer.connect();
    await this.#consumer.subscribe({
      topics: LANES.map((lane) => this.topics.lanes[lane]),
      fromBeginning: true,
    });
    await runBatches(this.#consumer, 16, (turn) => this.#buffers.take(turn));
    // Ready once this consumer holds its share of the partitions; the relay joins its own group
    // meanwhile (each join waits for the group's other members to rejoin).
    await Promise.all([this.#relay.start(), this.#joined]);
  }

  /** After a crash: the subscriptions outlive it, so connecting and running is enough. */
  async #run(): Promise<void> {
    await this.#consumer.connect();
    await runBatches(this.#consumer, 16, (turn) => this.#buffers.take(turn));
  }

  async publish(messages: readonly QueueMessage[]): Promise<void> {
    this.#hints.noteWritten(await this.#producer.publish(messages));
  }

  /**
   * Rejects while this process's consumer or its retry relay is down (crashed in a way kafkajs does
   * not recover from, and not yet started again): the worker pool reports the failure in /health and
   * stops counting as live if it lasts, instead of finding an empty queue.
   */
  async fetch(max: number, signal?: AbortSignal): Promise<Delivery[]> {
    const consumerDown = this.#revival?.down();
    if (consumerDown) throw consumerDownError("kafka consumer", consumerDown);
    const relayDown = this.#relay.down();
    if (relayDown) throw consumerDownError("kafka retry relay", relayDown);
    for (;;) {
      const got = await this.#buffers.fetch(max, signal);
      const out = await this.#capDeliveries(got);
      if (out.length > 0 || got.length === 0) return out;
    }
  }

  ack(delivery: Delivery): Promise<void> {
    return this.#finish(delivery as KafkaDelivery);
  }

  async retry(delivery: Delivery, next: RetryRequest): Promise<void> {
    await this.#producer.retry(delivery.lane, next);
    await this.#finish(delivery as KafkaDelivery);
  }

  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    await this.#producer.deadLetter(delivery as KafkaDelivery, reason);
    await this.#finish(delivery as KafkaDelivery);
  }

  /** The retry relay moves due messages continuously; this reports how many it moved. */
  async promoteDue(): Promise<number> {
    return this.#relay.takePromoted();
  }

  stats(): Promise<QueueStats> {
    return readQueueStats(this.#admin, this.topics, this.#options.groupId, this.#buffers.handedOut());
  }

  listDeadLetters(limit: number, after?: string): Promise<DeadLetter[]> {
    return this.#deadLetters.list(limit, after);
  }

  replayDeadLetter(id: string): Promise<boolean> {
    return this.#deadLetters.replay(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffers.close();
    this.#revival?.close();
    await this.#commits.final(this.#buffers.held());
    await this.#relay.stop();
    await this.#consumer.disconnect();
    await this.#producer.producer.disconnect();
    await this.#admin.disconnect();
  }

  /** After every rebalance. Ready (the first time) once lane order knows where the partitions stand. */
  #join(assignment: Record<string, number[]>): void {
    this.#buffers.assign(assignment);
    this.#commits.retryRefused(this.#buffers.held());
    void this.#hints.loadStarts().then(() => this.#onJoin());
  }

  /**
   * Counts the hand-out of each partition's first unfinished message: one handed out
   * `maxDeliveries` times already is dead-lettered instead, the others' counts are committed before
   * they go to a worker (a consumer that crashes on them cannot lose the count).
   */
  async #capDeliveries(got: readonly KafkaDelivery[]): Promise<KafkaDelivery[]> {
    const out: KafkaDelivery[] = [];
    const counted = new Set<KafkaDelivery["state"]>();
    for (const delivery of got) {
      const { state } = delivery;
      if (delivery.offset !== state.offsets.committable) {
        out.push(delivery);
        continue;
      }
      const deliveries = firstUnfinishedDeliveries(state);
      if (deliveries > this.#options.maxDeliveries && (await this.#deadLetterSpent(delivery, deliveries - 1)))
        continue;
      counted.add(state);
      out.push(delivery);
    }
    await Promise.all([...counted].map((state) => this.#commits.record(state)));
    return out;
  }

  /**
   * False when the dead-letter topic refused it: the message is then handed out once more rather
   * than left unfinished here, where it would hold its partition's commits back until a restart.
   */
  async #deadLetterSpent(delivery: KafkaDelivery, deliveries: number): Promise<boolean> {
    try {
      await this.deadLetter(delivery, deadLetterReason.deliveryCap(deliveries));
      return true;
    } catch (error) {
      this.#options.logger?.warn(
        { err: error, id: delivery.id },
        "kafka: could not dead-letter a message over max_deliveries; handing it out again",
      );
      return false;
    }
  }

  async #finish(delivery: KafkaDelivery): Promise<void> {
    const state = this.#buffers.finish(delivery);
    if (state) this.#commits.defer(state);
  }
}
