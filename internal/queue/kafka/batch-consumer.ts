import type { Batch, Consumer, Kafka } from "kafkajs";

interface BatchConsumerOptions {
  groupId: string;
  sessionTimeoutMs: number;
  /** How long a fetch waits for messages before the broker answers. */
  maxWaitTimeInMs: number;
}

/** One batch of one partition, and what its handler may do with it. */
export interface BatchTurn {
  readonly batch: Batch;
  /** False once the consumer stops or a rebalance made the batch stale: stop taking messages. */
  live(): boolean;
  resolveOffset(offset: string): void;
  /** Pauses the batch's partition; the function returned resumes it. */
  pause(): () => void;
}

/** A consumer that commits by itself (never automatically), as every consumer of the queue does. */
export function createBatchConsumer(kafka: Kafka, options: BatchConsumerOptions): Consumer {
  return kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.max(Math.floor(options.sessionTimeoutMs / 10), 100),
    maxWaitTimeInMs: options.maxWaitTimeInMs,
    allowAutoTopicCreation: true,
  });
}

/**
 * Runs `handle` on every batch, `concurrency` partitions at a time. Offsets are resolved and
 * committed by the handler only: a message counts as read once the handler says so. The heartbeat
 * after each batch keeps a consumer whose handler took long in its group.
 */
export async function runBatches(
  consumer: Consumer,
  concurrency: number,
  handle: (turn: BatchTurn) => Promise<void>,
): Promise<void> {
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: concurrency,
    eachBatch: async ({ batch, resolveOffset, pause, isRunning, isStale, heartbeat }) => {
      await handle({ batch, live: () => isRunning() && !isStale(), resolveOffset, pause });
      await heartbeat();
    },
  });
}
