import { randomUUID } from "node:crypto";
import type { Admin, Kafka, KafkaMessage } from "kafkajs";

export interface TopicRecord {
  partition: number;
  offset: number;
  message: KafkaMessage;
}

/**
 * Reads every message a topic holds right now, from each partition's start to the end offsets seen
 * when the read began. Kafka has no "get message at offset" call and kafkajs no manual assignment,
 * so this joins a throwaway consumer group that never commits. For operator actions (listing and
 * replaying dead letters), not for the delivery path.
 */
export async function readTopic(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  options: { groupPrefix: string; timeoutMs?: number },
): Promise<TopicRecord[]> {
  const ends = new Map<number, number>();
  for (const p of await admin.fetchTopicOffsets(topic)) {
    if (Number(p.high) > Number(p.low)) ends.set(p.partition, Number(p.high));
  }
  if (ends.size === 0) return [];

  const consumer = kafka.consumer({
    groupId: `${options.groupPrefix}.reader.${randomUUID()}`,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 100,
  });
  const records: TopicRecord[] = [];
  const remaining = new Set(ends.keys());
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = ends.get(batch.partition) ?? 0;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < end) records.push({ partition: batch.partition, offset, message });
        }
        if (Number(batch.lastOffset()) + 1 >= end) remaining.delete(batch.partition);
        if (remaining.size === 0) finish();
      },
    });
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`reading topic ${topic} took longer than ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([done, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
