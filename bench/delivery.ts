// npm run bench:delivery [-- --jobs 20000 --json --only ours|tracked|peer --sink postfix|node]
// BENCH_DKIM=rsa (RSA-2048) or BENCH_DKIM=ed25519 npm run bench:delivery [-- --jobs N]: only the fast
// path, unsigned and DKIM-signed in turn (twice each, best of each), and what signing costs it.
// Fast path, Redis → worker → SMTP sink in another process, against BullMQ + nodemailer in the same
// run, and the tracked path; each measurement sends into a fresh sink process. Two sinks: Postfix's
// smtp-sink (C, fast enough that the worker is what is measured; it only counts) and the Node sink
// (smtp-server, slower, but it records every message: latency and duplicates). Our worker is the
// compiled service run as the Docker image runs it (the CMD's Node flags). Prints throughput,
// enqueue-to-accepted latency (Node sink), each worker's peak RSS and CPU per 1,000 jobs, the ratio
// to the peer, and the raw ceiling: a minimal pipelining SMTP client sending pre-composed messages
// into the same sink. Needs Redis and PostgreSQL on localhost (as the tests do).
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { pino } from "pino";
import { encodeTrackedReference } from "../internal/job/queue-message.ts";
import { TemplateRepository } from "../internal/store/template-repository.ts";
import { createTestDatabase } from "../test/postgres.ts";
import { type SinkProcess, startSinkProcess } from "../test/smtp-sink-process.ts";
import { openMigratedRouter } from "../test/store.ts";
import { benchOptions } from "./bench-options.ts";
import { redisBackend } from "./in-process-worker.ts";
import { machineDescription } from "./machine.ts";
import { type CountingSink, startPostfixSink } from "./postfix-sink.ts";
import { cpuMs, peakRssMb } from "./process-usage.ts";
import { benchMessages, rawSmtpCeiling } from "./raw-smtp-ceiling.ts";
import { TARGETS } from "./targets.ts";
import { startBullmqWorker, startEmailWorker, type WorkerProcess } from "./worker-processes.ts";
import { BENCH_TEMPLATE, templateData } from "./workload.ts";

// --only runs one side, for profiling (BENCH_PROFILE_DIR) or trying Node flags (BENCH_WORKER_NODE_FLAGS).
const args = benchOptions({ jobs: 20_000, batch: 500 });
const { jobs: JOBS, concurrency: CONCURRENCY, batch: READ_BATCH } = args;
const POOL = 5;
const BATCH = 100;
/** The Node flags our worker ran with, for the report. */
let workerNodeFlags: string[] = [];

type SinkKind = "postfix" | "node";
/** A sink that counts (Postfix's), or one that also records each message (Node's). */
type Sink = CountingSink | SinkProcess;

export interface Result {
  name: string;
  sink: SinkKind;
  jobs: number;
  seconds: number;
  jobs_per_second: number;
  /** From publishing to the sink accepting; only the Node sink records when each job arrived. */
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  peak_rss_mb: number;
  worker_cpu_ms_per_1000_jobs: number;
  /** Messages beyond one per job: by job id (Node sink), or beyond the job count (Postfix's). */
  duplicates: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function measure(
  name: string,
  sink: Sink,
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
  const usage = () => ({
    peak_rss_mb: peakRssMb(worker.pid),
    worker_cpu_ms_per_1000_jobs: Math.round(((cpuMs(worker.pid) - cpuBefore) * 1000) / JOBS),
  });
  const received =
    "stats" in sink ? await receivedByNodeSink(sink, ids, publishedAt) : await receivedByCount(sink);
  const { seconds } = received;
  return {
    name,
    sink: received.latencies ? "node" : "postfix",
    jobs: JOBS,
    seconds: Number(seconds.toFixed(2)),
    jobs_per_second: Math.round(JOBS / seconds),
    latency_p50_ms: received.latencies ? percentile(received.latencies, 50) : null,
    latency_p99_ms: received.latencies ? percentile(received.latencies, 99) : null,
    ...received.usage,
    duplicates: received.duplicates,
  };

  /** Postfix's sink counts in this process's memory: polling it costs nothing, so it is polled often. */
  async function receivedByCount(counting: CountingSink): Promise<Received> {
    while ((await counting.count()) < JOBS) await sleep(10);
    const seconds = (Date.now() - started) / 1000;
    const measured = usage();
    // Anything sent twice arrives within a moment of the rest.
    await sleep(500);
    return { seconds, usage: measured, latencies: undefined, duplicates: (await counting.count()) - JOBS };
  }

  async function receivedByNodeSink(
    recording: SinkProcess,
    sent: string[],
    at: Map<string, number>,
  ): Promise<Received> {
    // Polled by count: the full stats walk every message, and polling them slowed the sink (the
    // bottleneck) more the more it held.
    while ((await recording.count()) < JOBS) await sleep(100);
    const measured = usage();
    const stats = await recording.stats();
    const finished = Math.max(...sent.map((id) => stats.received_at[id] ?? 0));
    return {
      seconds: (finished - started) / 1000,
      usage: measured,
      latencies: sent.map((id) => (stats.received_at[id] ?? 0) - (at.get(id) ?? 0)).sort((a, b) => a - b),
      duplicates: sent.reduce((sum, id) => sum + Math.max((stats.per_job[id] ?? 0) - 1, 0), 0),
    };
  }
}

/** What a sink says about a measurement's jobs; latencies only where it records each message. */
interface Received {
  seconds: number;
  usage: { peak_rss_mb: number; worker_cpu_ms_per_1000_jobs: number };
  latencies: number[] | undefined;
  duplicates: number;
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
  sink: Sink,
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

async function benchBullmq(sink: Sink): Promise<Result> {
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
 * The ceiling: a minimal pipelining SMTP client sending pre-composed messages straight into the sink
 * over as many connections as the workers use, no queue and no rendering, in this process. What share
 * of it each side reaches says how much room is left.
 */
async function rawCeiling(sink: Sink): Promise<number> {
  const result = await rawSmtpCeiling({
    port: sink.smtpPort,
    messages: JOBS,
    connections: POOL,
    message: await benchMessages(),
  });
  return result.messagesPerSecond;
}

function printResults(results: Result[]): void {
  console.log(
    "name                          sink       jobs/s   p50 ms   p99 ms   peak RSS MB   CPU ms/1k jobs   duplicates",
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(28)}  ${r.sink.padEnd(7)}  ${String(r.jobs_per_second).padStart(8)}   ${String(r.latency_p50_ms ?? "-").padStart(6)}   ${String(r.latency_p99_ms ?? "-").padStart(6)}   ${String(r.peak_rss_mb).padStart(11)}   ${String(r.worker_cpu_ms_per_1000_jobs).padStart(14)}   ${r.duplicates}`,
    );
  }
}

/** Each measurement gets a sink of its own: one that already holds thousands of messages is slower. */
async function withSink<T>(kind: SinkKind, measurement: (sink: Sink) => Promise<T>): Promise<T> {
  const sink = kind === "postfix" ? await startPostfixSink() : await startSinkProcess();
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
      unsigned.push(await withSink("postfix", (sink) => benchEmailWorker(sink, false)));
      signed.push(await withSink("postfix", (sink) => benchEmailWorker(sink, false, dkim)));
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

/** What `--json` prints for a full run (read by bench/all.ts). */
export interface DeliveryReport {
  date: string;
  machine: string;
  settings: {
    jobs: number;
    concurrency: number;
    smtp_pool: number;
    queue_batch_size: number;
    worker_node_flags: string;
  };
  postfix_smtp_sink: SinkRun;
  node_sink: SinkRun;
}

type SinkRun = Awaited<ReturnType<typeof sinkRun>>;

/** The fast path, the tracked path, the peer and the raw ceiling, all into one kind of sink. */
async function sinkRun(kind: SinkKind) {
  const ceiling = await withSink(kind, rawCeiling);
  const peer = await withSink(kind, benchBullmq);
  const ours = await withSink(kind, (sink) => benchEmailWorker(sink, false));
  const tracked = await withSink(kind, (sink) => benchEmailWorker(sink, true));
  const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
  return {
    sink: kind,
    results: [ours, tracked, peer] as [fast: Result, tracked: Result, peer: Result],
    raw_ceiling_jobs_per_second: ceiling,
    throughput_ratio_vs_bullmq: ratio(ours.jobs_per_second, peer.jobs_per_second),
    share_of_ceiling: {
      email_worker: ratio(ours.jobs_per_second, ceiling),
      bullmq: ratio(peer.jobs_per_second, ceiling),
    },
    tracked_share_of_fast_path: ratio(tracked.jobs_per_second, ours.jobs_per_second),
  };
}

try {
  const dkimBench = process.env.BENCH_DKIM;
  if (dkimBench) {
    if (dkimBench !== "rsa" && dkimBench !== "ed25519")
      throw new Error(`BENCH_DKIM takes rsa or ed25519, not ${JSON.stringify(dkimBench)}`);
    await dkimCost(dkimBench);
  } else if (args.only) {
    const sides: Record<string, (sink: Sink) => Promise<Result>> = {
      ours: (sink) => benchEmailWorker(sink, false),
      tracked: (sink) => benchEmailWorker(sink, true),
      peer: (sink) => benchBullmq(sink),
    };
    const side = sides[args.only];
    if (!side) throw new Error(`--only takes ours, tracked or peer, not ${JSON.stringify(args.only)}`);
    const sink = args.sink || "postfix";
    if (sink !== "postfix" && sink !== "node")
      throw new Error(`--sink takes postfix or node, not ${JSON.stringify(sink)}`);
    const result = await withSink(sink, side);
    if (args.json) console.log(JSON.stringify({ ...result, worker_node_flags: workerNodeFlags.join(" ") }));
    else printResults([result]);
  } else {
    await fullRun();
  }
} finally {
  pino({ level: "silent" }).flush();
}

async function fullRun(): Promise<void> {
  const postfix = await sinkRun("postfix");
  const node = await sinkRun("node");
  const report: DeliveryReport = {
    date: new Date().toISOString(),
    machine: machineDescription(),
    settings: {
      jobs: JOBS,
      concurrency: CONCURRENCY,
      smtp_pool: POOL,
      queue_batch_size: READ_BATCH,
      worker_node_flags: workerNodeFlags.join(" "),
    },
    postfix_smtp_sink: postfix,
    node_sink: node,
  };
  if (args.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(
    `${report.date}  ${report.machine}  jobs=${JOBS} concurrency=${CONCURRENCY} smtp_pool=${POOL} worker flags: ${report.settings.worker_node_flags || "(none)"}`,
  );
  printResults([...postfix.results, ...node.results]);
  for (const run of [postfix, node]) {
    console.log(
      `${run.sink === "postfix" ? "Postfix smtp-sink" : "Node sink"}: email-worker / BullMQ+nodemailer ${run.throughput_ratio_vs_bullmq}× (target ≥ ${TARGETS.fastPathRatio}×); raw ceiling ${run.raw_ceiling_jobs_per_second} msgs/s, share reached: email-worker ${run.share_of_ceiling.email_worker} (target ≥ ${TARGETS.fastPathCeilingShare}), BullMQ ${run.share_of_ceiling.bullmq}; tracked / fast path ${run.tracked_share_of_fast_path} (target ≥ ${TARGETS.trackedShareOfFastPath})`,
    );
  }
}
