// npm run bench:queue [-- --jobs 50000 --json]
// Scenario (a) of SPEC §10: queue + worker overhead with a provider that accepts instantly, against
// BullMQ's worker with a no-op processor, in the same run and process. Both drain a backlog that is
// published first; the time from the first fetch to the last acknowledgement is measured.
import { randomUUID } from "node:crypto";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import type { Provider } from "../internal/provider/provider.ts";
import { ProviderRouter } from "../internal/provider/provider-router.ts";
import { RedisIdempotencyStore } from "../internal/queue/redis/redis-idempotency-store.ts";
import { RedisStreamsQueue } from "../internal/queue/redis/redis-streams-queue.ts";
import { TemplateRenderer } from "../internal/template/renderer.ts";
import { JobProcessor } from "../internal/worker/job-processor.ts";
import { RetryPolicy } from "../internal/worker/retry-policy.ts";
import { WorkerPool } from "../internal/worker/worker-pool.ts";
import { deleteKeys, redisUrl } from "../test/redis.ts";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "50000" },
    concurrency: { type: "string", default: "50" },
    json: { type: "boolean", default: false },
  },
});
const JOBS = Number(args.jobs);
const CONCURRENCY = Number(args.concurrency);
const silent = pino({ level: "silent" });

/** Accepts every email at once: what is left to measure is the queue and the worker. */
const instant: Provider = {
  name: "instant",
  send: async (email) => ({ provider: "instant", message_id: email.job_id }),
  close: async () => {},
};

const notUsed = new Proxy({}, { get: () => () => Promise.reject(new Error("not used on the fast path")) });

async function emailWorker(): Promise<number> {
  const name = `ew-bench-queue:${randomUUID().slice(0, 8)}`;
  const redis = new Redis(redisUrl());
  const blocking = new Redis(redisUrl());
  const queue = new RedisStreamsQueue({
    redis,
    blockingRedis: blocking,
    name,
    visibilityTimeoutMs: 60_000,
    pollIntervalMs: 200,
  });
  await queue.init();
  for (let i = 0; i < JOBS; i += 500) {
    await queue.publish(
      Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({
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
  let done = 0;
  const processor = new JobProcessor({
    queue,
    queueName: name,
    jobs: notUsed as never,
    tracking: notUsed as never,
    idempotency: new RedisIdempotencyStore(redis, name),
    suppressions: { find: async () => undefined },
    renderer: new TemplateRenderer({ source: { get: async () => undefined } }),
    router: new ProviderRouter({
      providers: new Map([["instant", instant]]),
      routes: [],
      defaultProvider: "instant",
    }),
    retryPolicy: new RetryPolicy({ baseDelayMs: 1_000, factor: 2, maxDelayMs: 60_000, jitter: 0 }),
    defaultMaxRetries: 3,
    claimLeaseMs: 60_000,
    logger: silent,
    onOutcome: () => {
      done++;
    },
  });
  const pool = new WorkerPool({
    queue,
    handler: processor,
    concurrency: CONCURRENCY,
    batchSize: CONCURRENCY,
    jobTimeoutMs: 30_000,
    logger: silent,
  });
  const started = performance.now();
  pool.start();
  while (done < JOBS) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  await pool.stop(5_000);
  await queue.close();
  await deleteKeys(redis, name);
  redis.disconnect();
  blocking.disconnect();
  return Math.round(JOBS / seconds);
}

async function bullmq(): Promise<number> {
  const name = `bench-noop-${randomUUID().slice(0, 8)}`;
  const connection = { host: "127.0.0.1", port: 6379 };
  const queue = new Queue(name, { connection });
  for (let i = 0; i < JOBS; i += 500) {
    await queue.addBulk(
      Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({
        name: "email",
        data: { to: `u${i + k}@example.org` },
        opts: { removeOnComplete: true },
      })),
    );
  }
  let done = 0;
  const started = performance.now();
  const worker = new Worker(name, async () => {}, {
    connection: { ...connection, maxRetriesPerRequest: null },
    concurrency: CONCURRENCY,
  });
  worker.on("completed", () => {
    done++;
  });
  while (done < JOBS) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return Math.round(JOBS / seconds);
}

const peer = await bullmq();
const ours = await emailWorker();
const report = {
  date: new Date().toISOString(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`,
  scenario: "queue + worker overhead, instant provider",
  settings: { jobs: JOBS, concurrency: CONCURRENCY },
  results: { email_worker_jobs_per_second: ours, bullmq_noop_jobs_per_second: peer },
  ratio: Number((ours / peer).toFixed(2)),
};
if (args.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`${report.date}  ${report.machine}  jobs=${JOBS} concurrency=${CONCURRENCY}`);
  console.log(`email-worker (redis, instant provider)  ${ours} jobs/s`);
  console.log(`BullMQ (no-op worker)                   ${peer} jobs/s`);
  console.log(`ratio: ${report.ratio}× (target ≥ 3×)`);
}
