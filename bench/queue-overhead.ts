// npm run bench:queue [-- --jobs 50000 --json]
// Scenario (a) of the README's Benchmark section: queue + worker overhead with a provider that accepts instantly, against
// BullMQ's worker with a no-op processor, in the same run and process. Both drain a backlog that is
// published first; the time from the first fetch to the last acknowledgement is measured.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue, Worker } from "bullmq";
import { benchOptions } from "./bench-options.ts";
import { drainRate } from "./in-process-worker.ts";
import { machineDescription } from "./machine.ts";
import { TARGETS } from "./targets.ts";

const args = benchOptions({ jobs: 50_000, batch: 500 });
const { jobs: JOBS, concurrency: CONCURRENCY, batch: READ_BATCH } = args;

function emailWorker(): Promise<number> {
  const name = `ew-bench-queue:${randomUUID().slice(0, 8)}`;
  return drainRate({ name, concurrency: CONCURRENCY, readBatch: READ_BATCH }, JOBS, 500);
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

// --only ours|peer runs one side (for profiling with --cpu-prof); the ratio needs both.
const peer = args.only === "ours" ? Number.NaN : await bullmq();
const ours = args.only === "peer" ? Number.NaN : await emailWorker();
const report = {
  date: new Date().toISOString(),
  machine: machineDescription(),
  scenario: "queue + worker overhead, instant provider",
  settings: { jobs: JOBS, concurrency: CONCURRENCY, read_batch: READ_BATCH },
  results: { email_worker_jobs_per_second: ours, bullmq_noop_jobs_per_second: peer },
  ratio: Number((ours / peer).toFixed(2)),
};
if (args.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`${report.date}  ${report.machine}  jobs=${JOBS} concurrency=${CONCURRENCY}`);
  console.log(`email-worker (redis, instant provider)  ${ours} jobs/s`);
  console.log(`BullMQ (no-op worker)                   ${peer} jobs/s`);
  console.log(`ratio: ${report.ratio}× (target ≥ ${TARGETS.queueOverheadRatio}×)`);
}
