// npm run bench:memory [-- --jobs 100000 --json --only ours|peer]
// The memory scenario of the README's Benchmark section: the worker's RSS while it drains a 100,000-job backlog into an SMTP
// sink, against BullMQ + nodemailer draining the same backlog into the same kind of sink, in the same
// run. The backlog is published before each worker starts; each side gets a fresh sink process. Our
// worker is the compiled service run as the Docker image runs it (the CMD's Node flags), as the
// worker role (ROLE=worker).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { pino } from "pino";
import { TemplateRepository } from "../internal/store/template-repository.ts";
import { createTestDatabase } from "../test/postgres.ts";
import { type SinkProcess, startSinkProcess } from "../test/smtp-sink-process.ts";
import { openMigratedRouter } from "../test/store.ts";
import { benchOptions } from "./bench-options.ts";
import { redisBackend } from "./in-process-worker.ts";
import { machineDescription } from "./machine.ts";
import { cpuMs, peakRssMb, rssMb } from "./process-usage.ts";
import { TARGETS } from "./targets.ts";
import { startBullmqWorker, startEmailWorker, type WorkerProcess } from "./worker-processes.ts";
import { BENCH_TEMPLATE, templateData } from "./workload.ts";

const args = benchOptions({ jobs: 100_000, batch: 500 });
const { jobs: JOBS, concurrency: CONCURRENCY, batch: READ_BATCH } = args;
const POOL = 5;
const PUBLISH_BATCH = 1_000;
const TARGET_RSS_MB = TARGETS.backlogPeakRssMb;

interface Result {
  name: string;
  node_flags: string;
  jobs: number;
  drain_seconds: number;
  jobs_per_second: number;
  peak_rss_mb: number;
  /** RSS once started, before the first job: what the loaded code costs. */
  started_rss_mb: number;
  worker_cpu_ms_per_1000_jobs: number;
}

/** Publishes the backlog, starts the worker, and waits until the sink has every job. */
async function drain(
  name: string,
  publish: (offset: number, count: number) => Promise<void>,
  startWorker: (sink: SinkProcess) => Promise<WorkerProcess>,
): Promise<Result> {
  const sink = await startSinkProcess();
  try {
    for (let i = 0; i < JOBS; i += PUBLISH_BATCH) await publish(i, Math.min(PUBLISH_BATCH, JOBS - i));
    const worker = await startWorker(sink);
    try {
      const startedRss = rssMb(worker.pid);
      const cpuBefore = cpuMs(worker.pid);
      const started = performance.now();
      while ((await sink.count()) < JOBS) await sleep(250);
      const seconds = (performance.now() - started) / 1000;
      return {
        name,
        node_flags: worker.nodeFlags.join(" "),
        jobs: JOBS,
        drain_seconds: Number(seconds.toFixed(1)),
        jobs_per_second: Math.round(JOBS / seconds),
        peak_rss_mb: peakRssMb(worker.pid),
        started_rss_mb: startedRss,
        worker_cpu_ms_per_1000_jobs: Math.round(((cpuMs(worker.pid) - cpuBefore) * 1000) / JOBS),
      };
    } finally {
      await worker.stop();
    }
  } finally {
    await sink.stop();
  }
}

async function emailWorker(): Promise<Result> {
  const database = await createTestDatabase("ew_bench_memory");
  const router = await openMigratedRouter({ DATABASE_URL: database.url });
  await new TemplateRepository(router).upsert(BENCH_TEMPLATE);
  const queueName = `ew-bench-memory:${randomUUID().slice(0, 8)}`;
  const publisher = await redisBackend(queueName, 1, 1_000);
  try {
    return await drain(
      "email-worker",
      (offset, count) =>
        publisher.queue.publish(
          Array.from({ length: count }, (_, i) => ({
            lane: "normal" as const,
            body: JSON.stringify({
              id: randomUUID(),
              type: "welcome_email",
              recipient_email: `user${offset + i}@example.org`,
              template_id: BENCH_TEMPLATE.id,
              template_data: templateData(offset + i),
            }),
          })),
        ),
      (sink) =>
        startEmailWorker({
          queueName,
          databaseUrl: database.url,
          smtpPort: sink.smtpPort,
          smtpPool: POOL,
          concurrency: CONCURRENCY,
          readBatch: READ_BATCH,
          // The process the target is about: one that consumes and sends, and serves only its probes
          // (BENCH_WORKER_ENV="ROLE=all" measures the all-in-one process instead).
          env: { ROLE: "worker" },
        }),
    );
  } finally {
    await publisher.close();
    await router.destroy();
    await database.drop();
  }
}

async function bullmq(): Promise<Result> {
  const queueName = `bench-memory-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(queueName, { connection: { host: "127.0.0.1", port: 6379 } });
  try {
    return await drain(
      "BullMQ + nodemailer",
      async (offset, count) => {
        await queue.addBulk(
          Array.from({ length: count }, (_, i) => ({
            name: "email",
            data: {
              id: randomUUID(),
              to: `user${offset + i}@example.org`,
              template_data: templateData(offset + i),
            },
            opts: { removeOnComplete: true },
          })),
        );
      },
      (sink) =>
        startBullmqWorker({ queueName, smtpPort: sink.smtpPort, smtpPool: POOL, concurrency: CONCURRENCY }),
    );
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

try {
  const ours = args.only === "peer" ? undefined : await emailWorker();
  const peer = args.only === "ours" ? undefined : await bullmq();
  const results = [ours, peer].filter((r): r is Result => r !== undefined);
  const report = {
    date: new Date().toISOString(),
    machine: machineDescription(),
    settings: { jobs: JOBS, concurrency: CONCURRENCY, smtp_pool: POOL, queue_batch_size: READ_BATCH },
    results,
    target_peak_rss_mb: TARGET_RSS_MB,
    meets_target: ours ? ours.peak_rss_mb < TARGET_RSS_MB : undefined,
    rss_ratio_vs_bullmq: ours && peer ? Number((ours.peak_rss_mb / peer.peak_rss_mb).toFixed(2)) : undefined,
  };
  if (args.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`${report.date}  ${report.machine}  backlog=${JOBS} concurrency=${CONCURRENCY}`);
    console.log("name                   peak RSS MB   RSS at start   jobs/s   CPU ms/1k jobs   node flags");
    for (const r of results) {
      console.log(
        `${r.name.padEnd(21)}  ${String(r.peak_rss_mb).padStart(11)}   ${String(r.started_rss_mb).padStart(12)}   ${String(r.jobs_per_second).padStart(6)}   ${String(r.worker_cpu_ms_per_1000_jobs).padStart(14)}   ${r.node_flags || "(V8 defaults)"}`,
      );
    }
    if (ours)
      console.log(`email-worker peak RSS < ${TARGET_RSS_MB} MB: ${report.meets_target ? "yes" : "NO"}`);
  }
} finally {
  pino({ level: "silent" }).flush();
}
