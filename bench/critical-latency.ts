// npm run bench:latency [-- --backlog 100000 --json]
// Scenario (d) of SPEC §10: how long a `critical` email waits while a large `low` backlog drains.
// The worker pool runs in this process on Redis with a provider that accepts instantly; critical
// jobs are published one every 10 ms while the backlog is still draining, and timed from publish to
// the provider call.
import { randomUUID } from "node:crypto";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
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
    backlog: { type: "string", default: "100000" },
    critical: { type: "string", default: "100" },
    json: { type: "boolean", default: false },
  },
});
const BACKLOG = Number(args.backlog);
const CRITICAL = Number(args.critical);
const silent = pino({ level: "silent" });

const publishedAt = new Map<string, number>();
const latencies: number[] = [];
const instant: Provider = {
  name: "instant",
  async send(email) {
    const at = publishedAt.get(email.job_id);
    if (at !== undefined) latencies.push(performance.now() - at);
    return { provider: "instant", message_id: email.job_id };
  },
  close: async () => {},
};
const notUsed = new Proxy({}, { get: () => () => Promise.reject(new Error("not used on the fast path")) });

const name = `ew-bench-latency:${randomUUID().slice(0, 8)}`;
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
const job = (lane: string, i: number, id?: string) =>
  JSON.stringify({
    ...(id && { id }),
    type: `${lane}_email`,
    recipient_email: `u${i}@example.org`,
    subject: "Hi",
    text: "Hello",
  });
for (let i = 0; i < BACKLOG; i += 1_000) {
  await queue.publish(
    Array.from({ length: Math.min(1_000, BACKLOG - i) }, (_, k) => ({
      lane: "low" as const,
      body: job("low", i + k),
    })),
  );
}

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
});
const pool = new WorkerPool({
  queue,
  handler: processor,
  concurrency: 50,
  batchSize: 50,
  jobTimeoutMs: 30_000,
  logger: silent,
});
pool.start();
await sleep(500);
for (let i = 0; i < CRITICAL; i++) {
  const id = randomUUID();
  publishedAt.set(id, performance.now());
  await queue.publish([{ lane: "critical", body: job("critical", i, id) }]);
  await sleep(10);
}
while (latencies.length < CRITICAL) await sleep(10);
const backlogLeft = (await queue.stats()).lanes.low;
await pool.stop(5_000);
await queue.close();
await deleteKeys(redis, name);
redis.disconnect();
blocking.disconnect();

const sorted = [...latencies].sort((a, b) => a - b);
const pick = (p: number) =>
  Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 10) / 10;
const report = {
  date: new Date().toISOString(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`,
  scenario: "critical latency during a low backlog",
  settings: { backlog: BACKLOG, critical: CRITICAL, concurrency: 50 },
  results: { p50_ms: pick(0.5), p99_ms: pick(0.99), max_ms: pick(1), low_backlog_left: backlogLeft },
};
if (args.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`${report.date}  ${report.machine}  backlog=${BACKLOG} low, ${CRITICAL} critical`);
  console.log(
    `critical publish → provider: p50 ${report.results.p50_ms} ms, p99 ${report.results.p99_ms} ms, max ${report.results.max_ms} ms (target p99 ≤ 50 ms)`,
  );
  console.log(`low jobs still waiting when the last critical one went out: ${backlogLeft}`);
}
