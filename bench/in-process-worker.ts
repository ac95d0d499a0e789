import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { pino } from "pino";
import type { OutgoingEmail, Provider } from "../internal/provider/provider.ts";
import { ProviderRouter } from "../internal/provider/provider-router.ts";
import type { IdempotencyStore } from "../internal/queue/idempotency.ts";
import type { JobQueue } from "../internal/queue/queue.ts";
import { RedisIdempotencyStore } from "../internal/queue/redis/redis-idempotency-store.ts";
import { RedisStreamsQueue } from "../internal/queue/redis/redis-streams-queue.ts";
import { RenderPool } from "../internal/template/render-pool.ts";
import { TemplateRenderer } from "../internal/template/renderer.ts";
import { JobProcessor } from "../internal/worker/job-processor.ts";
import { RetryPolicy } from "../internal/worker/retry-policy.ts";
import { WorkerPool } from "../internal/worker/worker-pool.ts";
import { queueSettings } from "../test/queue-settings.ts";
import { deleteKeys, redisUrl } from "../test/redis.ts";

/** A queue with its idempotency store, and how to clean both up after the run. */
export interface QueueBackend {
  queue: JobQueue;
  idempotency: IdempotencyStore;
  close(): Promise<void>;
}

export interface InProcessWorkerOptions {
  /** Redis key prefix; each run uses its own so runs never see each other's jobs. */
  name: string;
  /** Entries the default Redis queue reads per round trip (`queue.batch_size`). */
  readBatch?: number;
  /** The queue to drain; a Redis Streams queue under `name` when absent. */
  backend?: QueueBackend;
  concurrency: number;
  /** Called for every email the provider accepts. */
  onSend?: (email: OutgoingEmail) => void;
  /** Called for every job the processor finishes. */
  onOutcome?: () => void;
}

export interface InProcessWorker {
  queue: JobQueue;
  start(): void;
  /** Stops the pool, deletes the run's keys and disconnects. */
  stop(): Promise<void>;
}

/**
 * The fast path as the service runs it — a queue (Redis Streams unless given), processor, pool — with a provider
 * that accepts at once, so what is measured is the queue and the worker. Fast-path jobs never
 * touch PostgreSQL, so the job and tracking stores reject if anything calls them.
 */
export async function inProcessWorker(options: InProcessWorkerOptions): Promise<InProcessWorker> {
  const silent = pino({ level: "silent" });
  const instant: Provider = {
    name: "instant",
    async send(email) {
      options.onSend?.(email);
      return { provider: "instant", message_id: email.job_id };
    },
    verify: async () => "accepts everything",
    close: async () => {},
  };
  const notUsed = new Proxy({}, { get: () => () => Promise.reject(new Error("not used on the fast path")) });
  const { queue, idempotency, close } =
    options.backend ?? (await redisBackend(options.name, options.readBatch ?? 1));
  const renderPool = new RenderPool({ threads: 2, timeoutMs: 2_000 });
  const processor = new JobProcessor({
    queue,
    queueName: options.name,
    jobs: notUsed as never,
    tracking: notUsed as never,
    idempotency,
    campaigns: notUsed as never,
    campaignOutcomes: notUsed as never,
    suppressions: { find: async () => undefined },
    suppressionFailOpen: true,
    renderer: new TemplateRenderer({
      source: { get: async () => undefined },
      pool: renderPool,
      maxTemplateBytes: 512 * 1024,
    }),
    router: new ProviderRouter({
      providers: new Map([["instant", instant]]),
      routes: [],
      defaultProvider: "instant",
      breaker: { failureThreshold: 5, halfOpenAfterMs: 30_000 },
    }),
    retryPolicy: new RetryPolicy({ baseDelayMs: 1_000, factor: 2, maxDelayMs: 60_000, jitter: 0 }),
    defaultMaxRetries: 3,
    claimLeaseMs: 60_000,
    logger: silent,
    ...(options.onOutcome && { onOutcome: options.onOutcome }),
  });
  const pool = new WorkerPool({
    queue,
    handler: processor,
    concurrency: options.concurrency,
    batchSize: options.concurrency,
    jobTimeoutMs: 30_000,
    logger: silent,
  });
  return {
    queue,
    start: () => pool.start(),
    async stop() {
      await pool.stop(5_000);
      await renderPool.stop();
      await close();
    },
  };
}

/** A Redis Streams queue under `name`; closing it deletes the run's keys and disconnects. */
export async function redisBackend(
  name: string,
  readBatch: number,
  pollIntervalMs = 200,
): Promise<QueueBackend> {
  const redis = new Redis(redisUrl());
  const blocking = new Redis(redisUrl());
  const queue = new RedisStreamsQueue({
    ...queueSettings().redis,
    redis,
    blockingRedis: blocking,
    name,
    visibilityTimeoutMs: 60_000,
    pollIntervalMs,
    readBatch,
  });
  await queue.init();
  return {
    queue,
    idempotency: new RedisIdempotencyStore(redis, name),
    async close() {
      await queue.close();
      await deleteKeys(redis, name);
      redis.disconnect();
      blocking.disconnect();
    },
  };
}

/**
 * Publishes a backlog of `jobs` small fast-path jobs, then measures how fast the worker drains it:
 * jobs per second from the start of the pool to the last job finished.
 */
export async function drainRate(
  options: Omit<InProcessWorkerOptions, "onOutcome" | "onSend">,
  jobs: number,
  publishBatch: number,
): Promise<number> {
  let done = 0;
  const worker = await inProcessWorker({
    ...options,
    onOutcome: () => {
      done++;
    },
  });
  for (let i = 0; i < jobs; i += publishBatch) {
    await worker.queue.publish(
      Array.from({ length: Math.min(publishBatch, jobs - i) }, (_, k) => ({
        lane: "normal" as const,
        body: JSON.stringify({
          type: "welcome_email",
          recipient_email: `u${i + k}@example.org`,
          subject: "Hi",
          text: "Hello",
        }),
      })),
    );
  }
  const started = performance.now();
  worker.start();
  while (done < jobs) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  return Math.round(jobs / seconds);
}
