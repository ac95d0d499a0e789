import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "../config/index.ts";
import type { DatabaseRouter } from "../store/database-router.ts";
import type { IdempotencyStore } from "./idempotency.ts";
import { PostgresIdempotencyStore } from "./postgres/postgres-idempotency-store.ts";
import { PostgresQueue } from "./postgres/postgres-queue.ts";
import type { JobQueue } from "./queue.ts";
import { connectRedis } from "./redis/connect-redis.ts";
import { RedisIdempotencyStore } from "./redis/redis-idempotency-store.ts";
import { RedisStreamsQueue } from "./redis/redis-streams-queue.ts";

export interface OpenedQueue {
  queue: JobQueue;
  idempotency: IdempotencyStore;
  /** The Redis connection, when the queue is on Redis (shared state such as provider rate limits). */
  redis?: Redis | undefined;
  /** Closes the queue and its connections. */
  close(): Promise<void>;
}

/** The configured queue backend, initialised (consumer groups exist) and ready. */
export async function openQueue(
  config: Config,
  database: DatabaseRouter,
  logger?: Logger,
): Promise<OpenedQueue> {
  const { queue: settings } = config;
  const timings = {
    visibilityTimeoutMs: settings.visibility_timeout,
    pollIntervalMs: settings.poll_interval,
    fairShare: settings.fair_share,
    onAckError: (error: unknown) =>
      logger?.warn({ err: error }, "acknowledgements failed; those messages will be delivered again"),
  };
  if (settings.driver === "postgres") {
    const queue = new PostgresQueue({ db: database.master, ...timings, claimBatch: settings.batch_size });
    await queue.init();
    return { queue, idempotency: new PostgresIdempotencyStore(database.master), close: () => queue.close() };
  }
  if (settings.driver === "redis") {
    const redis: Redis = await connectRedis(settings.redis, "email-worker");
    const blockingRedis = await connectRedis(settings.redis, "email-worker-blocking");
    const queue = new RedisStreamsQueue({
      redis,
      blockingRedis,
      name: settings.queue_name,
      ...timings,
      readBatch: settings.batch_size,
    });
    await queue.init();
    return {
      queue,
      idempotency: new RedisIdempotencyStore(redis, settings.queue_name),
      redis,
      async close() {
        await queue.close();
        await Promise.all([redis.quit(), blockingRedis.quit()]);
      },
    };
  }
  const { kafka } = settings;
  // kafkajs is loaded only when the queue is on Kafka.
  const [{ createKafka }, { KafkaQueue }] = await Promise.all([
    import("./kafka/kafka-client.ts"),
    import("./kafka/kafka-queue.ts"),
  ]);
  const queue = new KafkaQueue({
    kafka: createKafka(kafka, logger),
    name: settings.queue_name,
    groupId: kafka.group_id,
    retryTopic: kafka.retry_topic,
    deadLetterTopic: kafka.dead_letter_topic,
    pollIntervalMs: settings.poll_interval,
    fairShare: settings.fair_share,
    maxInFlightPerPartition: kafka.max_in_flight_per_partition,
    sessionTimeoutMs: kafka.session_timeout,
    retryHorizonMs: kafka.retry_horizon,
    createTopics: kafka.create_topics
      ? { partitions: kafka.partitions, replicationFactor: kafka.replication_factor }
      : undefined,
    logger,
  });
  try {
    await queue.init();
  } catch (error) {
    await queue.close().catch(() => {});
    throw error;
  }
  // Kafka keeps no keys of its own: idempotency keys live in the database, like tracked jobs.
  return { queue, idempotency: new PostgresIdempotencyStore(database.master), close: () => queue.close() };
}
