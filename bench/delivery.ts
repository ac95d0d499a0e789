// npm run bench [-- --jobs 20000 --json --only ours|tracked|peer]
// BENCH_DKIM=rsa (RSA-2048) or BENCH_DKIM=ed25519 npm run bench [-- --jobs N]: only the fast path,
// unsigned and DKIM-signed in turn (twice each, best of each), and what signing costs it.
// Fast path, Redis → worker → SMTP sink in another process, against BullMQ + nodemailer in the same
// run, and the tracked path; each measurement sends into a fresh sink process. Our worker is the
// compiled service run as the Docker image runs it (the CMD's Node flags). Prints throughput,
// enqueue-to-accepted latency, each worker's peak RSS and CPU per 1,000 jobs, the ratio to the peer,
// and the rate of raw pooled nodemailer into such a sink as a ceiling. Needs Redis and PostgreSQL on
// localhost (as the tests do).
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import Handlebars from "handlebars";
import nodemailer from "nodemailer";
import { pino } from "pino";
import { encodeTrackedReference } from "../internal/job/queue-message.ts";
import { TemplateRepository } from "../internal/store/template-repository.ts";
import { createTestDatabase } from "../test/postgres.ts";
import { type SinkProcess, startSinkProcess } from "../test/smtp-sink-process.ts";
import { openMigratedRouter } from "../test/store.ts";
import { benchOptions } from "./bench-options.ts";
import { redisBackend } from "./in-process-worker.ts";
import { machineDescription } from "./machine.ts";
import { cpuMs, peakRssMb } from "./process-usage.ts";
import { startBullmqWorker, startEmailWorker, type WorkerProcess } from "./worker-processes.ts";
import { BENCH_TEMPLATE, templateData } from "./workload.ts";

// --only runs one side, for profiling (BENCH_PROFILE_DIR) or trying Node flags (BENCH_WORKER_NODE_FLAGS).
const args = benchOptions({ jobs: 20_000, batch: 500 });
const { jobs: JOBS, concurrency: CONCURRENCY, batch: READ_BATCH } = args;
const POOL = 5;
const BATCH = 100;
/** The Node flags our worker ran with, for the report. */
let workerNodeFlags: string[] = [];

interface Result {
  name: string;
  jobs: number;
  seconds: number;
  jobs_per_second: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  peak_rss_mb: number;
  worker_cpu_ms_per_1000_jobs: number;
  duplicates: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function measure(
  name: string,
  sink: SinkProcess,
  worker: WorkerProcess,
  publish: (ids: string[], batch: number) => Promise<void>,
): Promise<Result> {
  const publishedAt = new Map<string, number>();
  const ids = Array.from({ length: JOBS }, () => randomUUID());
  const cpuBefore = cpuMs(worker.pid);
  const started = Date.now();
  for (let i = 0; i < JOBS; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    const now = Date.now();
    for (const id of batch) publishedAt.set(id, now);
    await publish(batch, i);
  }
  // Polled by count: the full stats walk every message, and polling them slowed the sink (the
  // bottleneck) more the more it held.
  while ((await sink.count()) < JOBS) await sleep(100);
  const rss = peakRssMb(worker.pid);
  const cpu = cpuMs(worker.pid) - cpuBefore;
  const stats = await sink.stats();
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
    worker_cpu_ms_per_1000_jobs: Math.round((cpu * 1000) / JOBS),
    duplicates: ids.reduce((sum, id) => sum + Math.max((stats.per_job[id] ?? 0) - 1, 0), 0),
  };
}

/**
 * The worker's settings for DKIM signing with a key made for this run (never one on disk beyond it):
 * the sender's domain, example.com, signs every message.
 */
function dkimSettings(algorithm: "rsa" | "ed25519", dir: string): Record<string, string> {
  const { privateKey } =
    algorithm === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ed25519");
  const file = join(dir, "dkim.pem");
  writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const keys = [
    {
      domain: "example.com",
      selector: "bench",
      private_key_file: file,
      algorithm: algorithm === "rsa" ? "rsa-sha256" : "ed25519-sha256",
    },
  ];
  return { DKIM_KEYS: JSON.stringify(keys) };
}

/** The fast path (the whole job on the queue), or the tracked path (a row first, the queue carries its id). */
async function benchEmailWorker(
  sink: SinkProcess,
  tracked: boolean,
  dkim?: { label: string; env: Record<string, string> },
): Promise<Result> {
  const database = await createTestDatabase("ew_bench");
  const router = await openMigratedRouter({ DATABASE_URL: database.url });
  await new TemplateRepository(router).upsert(BENCH_TEMPLATE);
  const name = `ew-bench:${randomUUID().slice(0, 8)}`;
  // Only publishes; the worker process under test consumes.
  const publisher = await redisBackend(name, 1, 1_000);
  const { queue } = publisher;
  const worker = await startEmailWorker({
    queueName: name,
    databaseUrl: database.url,
    smtpPort: sink.smtpPort,
    smtpPool: POOL,
    concurrency: CONCURRENCY,
    readBatch: READ_BATCH,
    ...(dkim && { env: dkim.env }),
  });
  workerNodeFlags = worker.nodeFlags;
  try {
    const label = tracked
      ? "email-worker tracked path"
      : dkim
        ? `email-worker + DKIM ${dkim.label}`
        : "email-worker (redis → smtp)";
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
          body: tracked ? encodeTrackedReference(id) : JSON.stringify(job(id, i)),
        })),
      );
    });
  } finally {
    await worker.stop();
    await publisher.close();
    await router.destroy();
    await database.drop();
  }
}

async function benchBullmq(sink: SinkProcess): Promise<Result> {
  const queueName = `bench-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(queueName, { connection: { host: "127.0.0.1", port: 6379 } });
  const worker = await startBullmqWorker({
    queueName,
    smtpPort: sink.smtpPort,
    smtpPool: POOL,
    concurrency: CONCURRENCY,
  });
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
    await worker.stop();
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
  const count = JOBS;
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

function printResults(results: Result[]): void {
  console.log(
    "name                          jobs/s   p50 ms   p99 ms   peak RSS MB   CPU ms/1k jobs   duplicates",
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(28)}  ${String(r.jobs_per_second).padStart(6)}   ${String(r.latency_p50_ms).padStart(6)}   ${String(r.latency_p99_ms).padStart(6)}   ${String(r.peak_rss_mb).padStart(11)}   ${String(r.worker_cpu_ms_per_1000_jobs).padStart(14)}   ${r.duplicates}`,
    );
  }
}

/** Each measurement gets a sink of its own: one that already holds thousands of messages is slower. */
async function withSink<T>(measurement: (sink: SinkProcess) => Promise<T>): Promise<T> {
  const sink = await startSinkProcess();
  try {
    return await measurement(sink);
  } finally {
    await sink.stop();
  }
}

/**
 * What DKIM signing costs the fast path: unsigned and signed runs alternate (twice each, on a fresh
 * sink each), and the best of each is compared, so both sides see the same machine load.
 */
async function dkimCost(algorithm: "rsa" | "ed25519"): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ew-bench-dkim-"));
  try {
    const dkim = {
      label: algorithm === "rsa" ? "rsa-sha256 2048" : "ed25519-sha256",
      env: dkimSettings(algorithm, dir),
    };
    const unsigned: Result[] = [];
    const signed: Result[] = [];
    for (let round = 0; round < 2; round++) {
      unsigned.push(await withSink((sink) => benchEmailWorker(sink, false)));
      signed.push(await withSink((sink) => benchEmailWorker(sink, false, dkim)));
    }
    const best = (results: Result[]) =>
      results.reduce((a, b) => (b.jobs_per_second > a.jobs_per_second ? b : a));
    const ratio = Number((best(signed).jobs_per_second / best(unsigned).jobs_per_second).toFixed(2));
    if (args.json) {
      console.log(JSON.stringify({ unsigned, signed, signed_share_of_unsigned: ratio }, null, 2));
      return;
    }
    printResults([...unsigned, ...signed]);
    console.log(`DKIM ${dkim.label}: signed / unsigned fast path (best of 2 each): ${ratio} (target ≥ 0.85)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const dkimBench = process.env.BENCH_DKIM;
  if (dkimBench) {
    if (dkimBench !== "rsa" && dkimBench !== "ed25519")
      throw new Error(`BENCH_DKIM takes rsa or ed25519, not ${JSON.stringify(dkimBench)}`);
    await dkimCost(dkimBench);
  } else if (args.only) {
    const sides: Record<string, (sink: SinkProcess) => Promise<Result>> = {
      ours: (sink) => benchEmailWorker(sink, false),
      tracked: (sink) => benchEmailWorker(sink, true),
      peer: (sink) => benchBullmq(sink),
    };
    const side = sides[args.only];
    if (!side) throw new Error(`--only takes ours, tracked or peer, not ${JSON.stringify(args.only)}`);
    const result = await withSink(side);
    if (args.json) console.log(JSON.stringify({ ...result, worker_node_flags: workerNodeFlags.join(" ") }));
    else printResults([result]);
  } else {
    await fullRun();
  }
} finally {
  pino({ level: "silent" }).flush();
}

async function fullRun(): Promise<void> {
  const ceiling = await withSink(rawNodemailerCeiling);
  const peer = await withSink(benchBullmq);
  const ours = await withSink((sink) => benchEmailWorker(sink, false));
  const tracked = await withSink((sink) => benchEmailWorker(sink, true));
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
      worker_node_flags: workerNodeFlags.join(" "),
    },
    results: [ours, tracked, peer],
    throughput_ratio_vs_bullmq: ratio,
    raw_nodemailer_ceiling_jobs_per_second: ceiling,
    share_of_ceiling: { email_worker: share(ours), bullmq: share(peer) },
    tracked_share_of_fast_path: trackedShare,
  };
  if (args.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(
    `${report.date}  ${report.machine}  jobs=${JOBS} concurrency=${CONCURRENCY} smtp_pool=${POOL} worker flags: ${report.settings.worker_node_flags || "(none)"}`,
  );
  printResults(report.results);
  console.log(`throughput ratio email-worker / BullMQ+nodemailer: ${ratio}× (target ≥ 2×)`);
  console.log(`tracked path / fast path: ${trackedShare} (target ≥ 0.5)`);
  console.log(
    `raw pooled nodemailer into the same sink (ceiling): ${ceiling} msgs/s; share reached: email-worker ${share(ours)}, BullMQ ${share(peer)}`,
  );
}
