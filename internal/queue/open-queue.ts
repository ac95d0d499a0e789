import type { Logger } from "pino";
import { type Config, consumes } from "../config/index.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { DatabaseRouter } from "../store/database-router.ts";
import type { IdempotencyStore } from "./idempotency.ts";
import type { KafkaQueueOptions } from "./kafka/kafka-queue.ts";
import { PostgresIdempotencyStore } from "./postgres/postgres-idempotency-store.ts";
import { PostgresQueue, type PostgresQueueOptions } from "./postgres/postgres-queue.ts";
import type { JobQueue } from "./queue.ts";
import { connectRedis, type RedisClient } from "./redis/connect-redis.ts";
import { usesHashTags } from "./redis/queue-keys.ts";
import { RedisIdempotencyStore } from "./redis/redis-idempotency-store.ts";
import {
  type QueueDataLoss,
  RedisStreamsQueue,
  type RedisStreamsQueueOptions,
} from "./redis/redis-streams-queue.ts";

export interface OpenedQueue {
  queue: JobQueue;
  idempotency: IdempotencyStore;
  /** The Redis connection, when the queue is on Redis (shared state such as provider rate limits). */
  redis?: RedisClient | undefined;
  /** Closes the queue and its connections. */
  close(): Promise<void>;
}

/**
 * The consumer group of the redis queue. The schema has no setting for it: renaming it would orphan
 * the entries pending in the old group.
 */
export const REDIS_GROUP = "email-workers";

/** What each driver takes from the configuration; connections and names are added where it opens. */
export interface DriverSettings {
  postgres: Omit<PostgresQueueOptions, "db" | "onAckError">;
  redis: Omit<RedisStreamsQueueOptions, "redis" | "blockingRedis" | "name" | "consumer" | "onAckError">;
  kafka: Pick<
    KafkaQueueOptions,
    | "pollIntervalMs"
    | "fairShare"
    | "maxInFlightPerPartition"
    | "sessionTimeoutMs"
    | "retryHorizonMs"
    | "maxDeliveries"
  >;
}

/** The one place the queue settings become driver options (the schema holds their defaults). */
export function driverSettings(settings: Config["queue"]): DriverSettings {
  const common = {
    visibilityTimeoutMs: settings.visibility_timeout,
    pollIntervalMs: settings.poll_interval,
    fairShare: settings.fair_share,
    maxDeliveries: settings.max_deliveries,
  };
  return {
    postgres: { ...common, claimBatch: settings.batch_size },
    redis: { ...common, group: REDIS_GROUP, readBatch: settings.batch_size },
    kafka: {
      pollIntervalMs: settings.poll_interval,
      fairShare: settings.fair_share,
      maxInFlightPerPartition: settings.kafka.max_in_flight_per_partition,
      sessionTimeoutMs: settings.kafka.session_timeout,
      retryHorizonMs: settings.kafka.retry_horizon,
      maxDeliveries: settings.max_deliveries,
    },
  };
}

/** What to do when the queue's backend lost its data (Redis without persistence). */
export interface QueueLossHandling {
  metrics: Pick<Metrics, "queueRecreated">;
  /** Messages published before `detectedAt` are gone: whatever can be published again, should be. */
  onDataLost(detectedAt: Date): void;
}

/** The configured queue backend, initialised (consumer groups exist) and ready. */
export async function openQueue(
  config: Config,
  database: DatabaseRouter,
  logger?: Logger,
  loss?: QueueLossHandling,
): Promise<OpenedQueue> {
  const { queue: settings } = config;
  const drivers = driverSettings(settings);
  const onAckError = (error: unknown) =>
    logger?.warn({ err: error }, "acknowledgements failed; those messages will be delivered again");
  if (settings.driver === "postgres") {
    const queue = new PostgresQueue({ db: database.master, ...drivers.postgres, onAckError });
    await queue.init();
    return { queue, idempotency: new PostgresIdempotencyStore(database.master), close: () => queue.close() };
  }
  if (settings.driver === "redis") {
    const hashTags = usesHashTags(settings.redis);
    const redis = await connectRedis(settings.redis, "email-worker", logger);
    const blockingRedis = await connectRedis(settings.redis, "email-worker-blocking", logger).catch(
      (error: unknown) => {
        redis.disconnect();
        throw error;
      },
    );
    const queue = new RedisStreamsQueue({
      redis,
      blockingRedis,
      name: settings.queue_name,
      hashTags,
      ...drivers.redis,
      onAckError,
      onRecreated: (event) => {
        reportRecreated(event, logger, loss?.metrics);
        if (event.dataLost) loss?.onDataLost(new Date());
      },
    });
    await queue.init();
    return {
      queue,
      idempotency: new RedisIdempotencyStore(redis, settings.queue_name, hashTags),
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
    ...drivers.kafka,
    createTopics: kafka.create_topics
      ? { partitions: kafka.partitions, replicationFactor: kafka.replication_factor }
      : undefined,
    consume: consumes(config.server.role),
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

/**
 * Redis lost the consumer group. The group and streams are back at once; tracked jobs whose messages
 * went with them are queued again by the reconciler after its grace period. What lived only in Redis
 * cannot come back: it is named here with how much of it there was when last seen.
 */
function reportRecreated(
  event: QueueDataLoss,
  logger: Logger | undefined,
  metrics: Pick<Metrics, "queueRecreated"> | undefined,
): void {
  metrics?.queueRecreated.inc({ data_lost: String(event.dataLost) });
  if (!event.dataLost) {
    logger?.warn({ cause: event.cause }, "the queue's consumer group was gone: made it again");
    return;
  }
  logger?.error(
    {
      cause: event.cause,
      last_seen: event.lastSeen && {
        waiting: Object.values(event.lastSeen.lanes).reduce((sum, n) => sum + n, 0),
        in_flight: event.lastSeen.in_flight,
        delayed: event.lastSeen.delayed,
        dead_letters: event.lastSeen.dead,
      },
    },
    "Redis lost the queue's data (restart without persistence, flush, or failover to an empty node): " +
      "waiting, delayed and retrying fast-path jobs, dead letters and idempotency keys are gone; " +
      "tracked jobs are queued again by the reconciler",
  );
}
