import type { Consumer, Kafka, KafkaMessage, Message, Producer } from "kafkajs";
import type { Logger } from "pino";
import { isLane, type Lane } from "../../job/priority.ts";
import { type BatchTurn, createBatchConsumer, runBatches } from "./batch-consumer.ts";
import { type ConsumerDown, ConsumerRevival } from "./consumer-revival.ts";
import { headerText, type KafkaTopics } from "./topics.ts";

interface RetryRelayOptions {
  kafka: Kafka;
  producer: Producer;
  topics: KafkaTopics;
  groupId: string;
  sessionTimeoutMs: number;
  /** How long the relay's fetches wait; also bounds how late a resumed partition is read. */
  pollIntervalMs: number;
  /** A message due later than this is moved behind the others rather than hold them up. */
  horizonMs: number;
  logger?: Logger | undefined;
}

/** Headers a message waiting in the retry topic carries. */
export const RETRY_HEADERS = {
  lane: "lane",
  runAt: "run_at",
  attempt: "attempt",
  /** When the relay last moved this message behind the others (it was due beyond the horizon). */
  requeuedAt: "requeued_at",
} as const;

/**
 * Moves scheduled and retry messages from the retry topic onto their lanes when due. Each partition
 * is read in order; when the message at its head is not due, the partition is paused until it is
 * (no polling). A message due beyond the horizon is moved to the back once per horizon so that an
 * email scheduled for next week does not hold up a retry due in a minute behind it.
 *
 * Every replica runs one, in its own consumer group, so the partitions are shared. At least once:
 * a message is committed only after its copy on the lane was written.
 */
export class RetryRelay {
  readonly #options: RetryRelayOptions;
  readonly #consumer: Consumer;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #revival: ConsumerRevival;
  #promoted = 0;

  constructor(options: RetryRelayOptions) {
    this.#options = options;
    this.#consumer = createBatchConsumer(options.kafka, {
      groupId: options.groupId,
      sessionTimeoutMs: options.sessionTimeoutMs,
      maxWaitTimeInMs: options.pollIntervalMs,
    });
    this.#revival = new ConsumerRevival(this.#consumer, {
      name: "kafka retry relay",
      start: () => this.#run(),
      logger: options.logger,
    });
  }

  /** Why the relay's consumer is down (see ConsumerRevival); undefined while it runs. */
  down(): ConsumerDown | undefined {
    return this.#revival.down();
  }

  get consumer(): Consumer {
    return this.#consumer;
  }

  /** Messages moved onto lanes since the last call. */
  takePromoted(): number {
    const promoted = this.#promoted;
    this.#promoted = 0;
    return promoted;
  }

  /** Resolves once the relay's consumer joined its group. */
  async start(): Promise<void> {
    const joined = new Promise<void>((resolve) => {
      const stop = this.#consumer.on(this.#consumer.events.GROUP_JOIN, () => {
        stop();
        resolve();
      });
    });
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic: this.#options.topics.retry, fromBeginning: true });
    await runBatches(this.#consumer, 4, (turn) => this.#relay(turn));
    await joined;
  }

  /** After a crash: the subscription outlives it, so connecting and running is enough. */
  async #run(): Promise<void> {
    await this.#consumer.connect();
    await runBatches(this.#consumer, 4, (turn) => this.#relay(turn));
  }

  async stop(): Promise<void> {
    this.#revival.close();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#consumer.disconnect();
  }

  async #relay({ batch, live, resolveOffset, pause }: BatchTurn): Promise<void> {
    const due: { message: KafkaMessage; lane: Lane }[] = [];
    let lastDue: string | undefined;
    const requeue: Message[] = [];
    let wait: number | undefined;
    for (const message of batch.messages) {
      if (!live()) break;
      const now = Date.now();
      const runAt = Number(headerText(message.headers, RETRY_HEADERS.runAt) ?? 0) || 0;
      if (runAt <= now) {
        due.push({ message, lane: laneOf(message) });
        lastDue = message.offset;
        continue;
      }
      const requeuedAt = Number(headerText(message.headers, RETRY_HEADERS.requeuedAt) ?? 0) || 0;
      if (runAt - now > this.#options.horizonMs && now - requeuedAt >= this.#options.horizonMs) {
        requeue.push({
          key: message.key,
          value: message.value,
          headers: { ...message.headers, [RETRY_HEADERS.requeuedAt]: String(now) },
        });
        lastDue = message.offset;
        continue;
      }
      // Not due: everything before it is handled below; this partition waits for it.
      const cycled = requeuedAt > 0 ? this.#options.horizonMs - (now - requeuedAt) : this.#options.horizonMs;
      wait = Math.max(Math.min(runAt - now, cycled), 1);
      break;
    }

    if (due.length > 0 || requeue.length > 0) {
      const messages = new Map<string, Message[]>();
      for (const { message, lane } of due) {
        const topic = this.#options.topics.lanes[lane];
        const list = messages.get(topic) ?? [];
        const attempt = headerText(message.headers, RETRY_HEADERS.attempt);
        list.push({ value: message.value, ...(attempt && attempt !== "0" && { headers: { attempt } }) });
        messages.set(topic, list);
      }
      if (requeue.length > 0) messages.set(this.#options.topics.retry, requeue);
      await this.#options.producer.sendBatch({
        topicMessages: [...messages].map(([topic, list]) => ({ topic, messages: list })),
      });
      if (lastDue !== undefined) {
        resolveOffset(lastDue);
        await this.#consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: String(Number(lastDue) + 1) },
        ]);
      }
      this.#promoted += due.length;
    }
    if (wait !== undefined && live()) {
      const resume = pause();
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resume();
      }, wait);
      this.#timers.add(timer);
    }
  }
}

function laneOf(message: KafkaMessage): Lane {
  const lane = headerText(message.headers, RETRY_HEADERS.lane);
  return lane !== undefined && isLane(lane) ? lane : "normal";
}
