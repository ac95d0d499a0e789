// npm run bench [-- --jobs 20000 --json]
// Fast path, Redis → worker → SMTP sink in another process, against BullMQ + nodemailer on the same
// sink in the same run. Prints throughput, enqueue-to-accepted latency, the worker's peak RSS and
// the ratio to the peer, and the rate of raw pooled nodemailer into the same sink as a ceiling. Needs
// Redis and PostgreSQL on localhost (as the tests do).
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Queue } from "bullmq";
import Handlebars from "handlebars";
import nodemailer from "nodemailer";
import { pino } from "pino";
import { TemplateRepository } from "../internal/store/template-repository.ts";
import { createTestDatabase } from "../test/postgres.ts";
import { type RunningProcess, startProcess } from "../test/process.ts";
import { redisUrl } from "../test/redis.ts";
import { type SinkProcess, startSinkProcess } from "../test/smtp-sink-process.ts";
import { openMigratedRouter } from "../test/store.ts";
import { redisBackend } from "./in-process-worker.ts";
import { machineDescription } from "./machine.ts";
import { BENCH_TEMPLATE, templateData } from "./workload.ts";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
    "read-batch": { type: "string", default: "500" },
    json: { type: "boolean", default: false },
  },
});
const JOBS = Number(args.jobs);
const CONCURRENCY = Number(args.concurrency);
const READ_BATCH = Number(args["read-batch"]);
const POOL = 5;
const BATCH = 100;

interface Result {
  name: string;
  jobs: number;
  seconds: number;
  jobs_per_second: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  peak_rss_mb: number;
  duplicates: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function peakRssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function measure(
  name: string,
  sink: SinkProcess,
  worker: RunningProcess,
  publish: (ids: string[], batch: number) => Promise<void>,
): Promise<Result> {
  const publishedAt = new Map<string, number>();
  const ids = Array.from({ length: JOBS }, () => randomUUID());
  const before = (await sink.stats()).total;
  const started = Date.now();
  for (let i = 0; i < JOBS; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    const now = Date.now();
    for (const id of batch) publishedAt.set(id, now);
    await publish(batch, i);
  }
  let stats = await sink.stats();
  while (stats.total - before < JOBS) {
    await sleep(100);
    stats = await sink.stats();
  }
  const rss = peakRssMb(worker.child.pid);
  const ours = ids.map((id) => stats.received_at[id] ?? 0);
  const finished = Math.max(...ours);
  const latencies = ids
    .map((id) => (stats.received_at[id] ?? 0) - (publishedAt.get(id) ?? 0))
    .sort((a, b) => a - b);
  const seconds = (finished - started) / 1000;
  return {
    name,
    jobs: JOBS,
    seconds: Number(seconds.toFixed(2)),
    jobs_per_second: Math.round(JOBS / seconds),
    latency_p50_ms: percentile(latencies, 50),
    latency_p99_ms: percentile(latencies, 99),
    peak_rss_mb: rss,
    duplicates: ids.reduce((sum, id) => sum + Math.max((stats.per_job[id] ?? 0) - 1, 0), 0),
  };
}

/** The fast path (the whole job on the queue), or the tracked path (a row first, the queue carries its id). */
async function benchEmailWorker(sink: SinkProcess, tracked: boolean): Promise<Result> {
  const database = await createTestDatabase("ew_bench");
  const router = await openMigratedRouter({ DATABASE_URL: database.url });
  await new TemplateRepository(router).upsert(BENCH_TEMPLATE);
  const name = `ew-bench:${randomUUID().slice(0, 8)}`;
  // Only publishes; the worker process under test consumes.
  const publisher = await redisBackend(name, 1, 1_000);
  const { queue } = publisher;
  const cwd = mkdtempSync(join(tmpdir(), "ew-bench-"));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const worker = startProcess(fileURLToPath(new URL("../cmd/email-worker/main.ts", import.meta.url)), {
    cwd,
    env: {
      PORT: String(port),
      GRPC_PORT: "0",
      LOG_LEVEL: "warn",
      QUEUE_DRIVER: "redis",
      QUEUE_NAME: name,
      REDIS_URL: redisUrl(),
      DATABASE_URL: database.url,
      EMAIL_DEFAULT_PROVIDER: "smtp",
      SMTP_HOST: "127.0.0.1",
      SMTP_PORT: String(sink.smtpPort),
      SMTP_USE_TLS: "false",
      SMTP_POOL_SIZE: String(POOL),
      SMTP_FROM_EMAIL: "noreply@example.com",
      WORKER_COUNT: String(CONCURRENCY),
      WORKER_BATCH_SIZE: String(CONCURRENCY),
      QUEUE_BATCH_SIZE: String(READ_BATCH),
      // --cpu-prof writes a profile of the worker to this directory, for finding where time goes;
      // BENCH_NODE_OPTIONS passes other Node flags to the worker (heap settings, say).
      NODE_OPTIONS: [
        process.env.BENCH_PROFILE_DIR && `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`,
        process.env.BENCH_NODE_OPTIONS,
      ]
        .filter(Boolean)
        .join(" "),
    },
  });
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${port}/v1/emails/${randomUUID()}`).then(
      (r) => r.status === 404,
      () => false,
    );
    if (ready) break;
    await sleep(100);
  }
  try {
    const label = tracked ? "email-worker tracked path" : "email-worker (redis → smtp)";
    return await measure(label, sink, worker, async (ids, offset) => {
      const job = (id: string, i: number) => ({
        id,
        type: "welcome_email",
        recipient_email: `user${offset + i}@example.org`,
        template_id: BENCH_TEMPLATE.id,
        template_data: templateData(offset + i),
      });
      if (tracked) {
        // What EmailService does per job, in one statement per batch: the rows, then their ids queued.
        await router.master
          .insertInto("email_jobs")
          .values(
            ids.map((id, i) => ({
              id,
              job_type: "welcome_email",
              recipient_email: `user${offset + i}@example.org`,
              template_id: BENCH_TEMPLATE.id,
              template_data: JSON.stringify(templateData(offset + i)),
            })),
          )
          .execute();
      }
      await queue.publish(
        ids.map((id, i) => ({
          lane: "normal" as const,
          body: JSON.stringify(tracked ? { id, tracked: true } : job(id, i)),
        })),
      );
    });
  } finally {
    worker.child.kill("SIGTERM");
    await worker.exit();
    await publisher.close();
    await router.destroy();
    await database.drop();
    rmSync(cwd, { recursive: true, force: true });
  }
}

async function benchBullmq(sink: SinkProcess): Promise<Result> {
  const queueName = `bench-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(queueName, { connection: { host: "127.0.0.1", port: 6379 } });
  const worker = startProcess(fileURLToPath(new URL("./bullmq-worker.ts", import.meta.url)), {
    cwd: process.cwd(),
    env: {
      BENCH_QUEUE: queueName,
      SMTP_PORT: String(sink.smtpPort),
      SMTP_POOL_SIZE: String(POOL),
      CONCURRENCY: String(CONCURRENCY),
    },
  });
  await worker.waitFor("ready", 30_000);
  try {
    return await measure("BullMQ + nodemailer", sink, worker, async (ids, offset) => {
      await queue.addBulk(
        ids.map((id, i) => ({
          name: "email",
          data: { id, to: `user${offset + i}@example.org`, template_data: templateData(offset + i) },
          opts: { removeOnComplete: true },
        })),
      );
    });
  } finally {
    worker.child.kill("SIGTERM");
    await worker.exit();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

/**
 * The ceiling: pooled nodemailer sending pre-rendered messages straight into the sink, no queue and
 * no rendering, in this process. What share of it each side reaches says how much room is left.
 */
async function rawNodemailerCeiling(sink: SinkProcess): Promise<number> {
  const transport = nodemailer.createTransport({
    pool: true,
    host: "127.0.0.1",
    port: sink.smtpPort,
    secure: false,
    ignoreTLS: true,
    maxConnections: POOL,
    maxMessages: Number.POSITIVE_INFINITY,
  });
  const count = Math.min(JOBS, 5_000);
  const html = Handlebars.compile(BENCH_TEMPLATE.html_template)(templateData(1));
  const text = Handlebars.compile(BENCH_TEMPLATE.text_template, { noEscape: true })(templateData(1));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        next++;
        await transport.sendMail({
          from: "noreply@example.com",
          to: `ceiling${next}@example.org`,
          subject: "Welcome to the service",
          html,
          text,
          headers: { "X-Email-Job-Id": randomUUID() },
        });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  transport.close();
  return Math.round(count / seconds);
}

const sink = await startSinkProcess();
try {
  const ceiling = await rawNodemailerCeiling(sink);
  const peer = await benchBullmq(sink);
  const ours = await benchEmailWorker(sink, false);
  const tracked = await benchEmailWorker(sink, true);
  const ratio = Number((ours.jobs_per_second / peer.jobs_per_second).toFixed(2));
  const trackedShare = Number((tracked.jobs_per_second / ours.jobs_per_second).toFixed(2));
  const share = (r: Result) => Number((r.jobs_per_second / ceiling).toFixed(2));
  const report = {
    date: new Date().toISOString(),
    machine: machineDescription(),
    settings: {
      jobs: JOBS,
      concurrency: CONCURRENCY,
      smtp_pool: POOL,
      queue_batch_size: READ_BATCH,
      worker_node_flags: process.env.BENCH_NODE_OPTIONS ?? "",
    },
    results: [ours, tracked, peer],
    throughput_ratio_vs_bullmq: ratio,
    raw_nodemailer_ceiling_jobs_per_second: ceiling,
    share_of_ceiling: { email_worker: share(ours), bullmq: share(peer) },
    tracked_share_of_fast_path: trackedShare,
  };
  if (args.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(
      `${report.date}  ${report.machine}  jobs=${JOBS} concurrency=${CONCURRENCY} smtp_pool=${POOL}`,
    );
    console.log("name                          jobs/s   p50 ms   p99 ms   peak RSS MB   duplicates");
    for (const r of report.results) {
      console.log(
        `${r.name.padEnd(28)}  ${String(r.jobs_per_second).padStart(6)}   ${String(r.latency_p50_ms).padStart(6)}   ${String(r.latency_p99_ms).padStart(6)}   ${String(r.peak_rss_mb).padStart(11)}   ${r.duplicates}`,
      );
    }
    console.log(`throughput ratio email-worker / BullMQ+nodemailer: ${ratio}× (target ≥ 2×)`);
    console.log(`tracked path / fast path: ${trackedShare} (target ≥ 0.5)`);
    console.log(
      `raw pooled nodemailer into the same sink (ceiling): ${ceiling} msgs/s; share reached: email-worker ${share(ours)}, BullMQ ${share(peer)}`,
    );
  }
} finally {
  await sink.stop();
  pino({ level: "silent" }).flush();
}
