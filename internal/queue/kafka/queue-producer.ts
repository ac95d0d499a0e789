import { type Kafka, type Message, Partitioners, type Producer, type RecordMetadata } from "kafkajs";
import type { Lane } from "../../job/priority.ts";
import type { QueueMessage, RetryRequest } from "../queue.ts";
import type { KafkaDelivery } from "./kafka-delivery.ts";
import { RETRY_HEADERS } from "./retry-relay.ts";
import type { KafkaTopics } from "./topics.ts";

/**
 * Writes the queue's messages: due ones onto their lane topic, scheduled ones and retries onto the
 * retry topic (where the relay holds them until due), failed ones onto the dead-letter topic.
 * Idempotent with one request in flight, so a retried send neither duplicates nor reorders.
 */
export class QueueProducer {
  readonly producer: Producer;
  readonly #topics: KafkaTopics;

  constructor(kafka: Kafka, topics: KafkaTopics) {
    this.#topics = topics;
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  /** Writes the messages, one request for all; resolves with where each partition's write landed. */
  async publish(messages: readonly QueueMessage[]): Promise<RecordMetadata[]> {
    if (messages.length === 0) return [];
    const byTopic = new Map<string, Message[]>();
    const now = Date.now();
    for (const message of messages) {
      const runAt =
        message.run_at !== undefined && message.run_at.getTime() > now ? message.run_at : undefined;
      const topic = runAt ? this.#topics.retry : this.#topics.lanes[message.lane];
      const list = byTopic.get(topic) ?? [];
      list.push(runAt ? scheduledMessage(message, runAt) : laneMessage(message));
      byTopic.set(topic, list);
    }
    return this.producer.sendBatch({
      topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
    });
  }

  async retry(lane: Lane, next: RetryRequest): Promise<void> {
    const headers = {
      ...scheduledHeaders(lane, next.run_at, next.attempt),
      error: next.error.slice(0, 1_000),
    };
    await this.producer.send({ topic: this.#topics.retry, messages: [{ value: next.body, headers }] });
  }

  /** The letter keeps the headers it came with, and says why and when it failed and where it was. */
  async deadLetter(delivery: KafkaDelivery, reason: string): Promise<void> {
    const headers = {
      ...delivery.headers,
      lane: delivery.lane,
      reason,
      attempt: String(delivery.attempt),
      failed_at: new Date().toISOString(),
      source: delivery.id,
    };
    await this.producer.send({ topic: this.#topics.dead, messages: [{ value: delivery.body, headers }] });
  }
}

/**
 * A message for its lane topic; the trace context it continues also goes in the W3C headers, where
 * Kafka instrumentation of other services looks for it.
 */
function laneMessage(message: QueueMessage): Message {
  const attempt = message.attempt ?? 0;
  const headers: Record<string, string> = {
    ...(attempt > 0 && { attempt: String(attempt) }),
    ...(message.trace?.traceparent && { traceparent: message.trace.traceparent }),
    ...(message.trace?.tracestate && { tracestate: message.trace.tracestate }),
  };
  return { value: message.body, ...(Object.keys(headers).length > 0 && { headers }) };
}

function scheduledMessage(message: QueueMessage, runAt: Date): Message {
  return { value: message.body, headers: scheduledHeaders(message.lane, runAt, message.attempt ?? 0) };
}

/** What the relay needs to move a message onto its lane when due. */
function scheduledHeaders(lane: Lane, runAt: Date, attempt: number): Record<string, string> {
  return {
    [RETRY_HEADERS.lane]: lane,
    [RETRY_HEADERS.runAt]: String(runAt.getTime()),
    [RETRY_HEADERS.attempt]: String(attempt),
  };
}
