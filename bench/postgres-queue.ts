// npm run bench:postgres [-- --jobs 30000 --json]
// Scenario (e) of the README's Benchmark section: the `postgres` queue driver against graphile-worker, each on its own
// throwaway database on the same PostgreSQL server, in the same run. Both drain a backlog published
// first, with a job that does nothing (our provider accepts at once); graphile-worker runs with the
// settings its performance page uses (local queue, batched completion).
import { setTimeout as sleep } from "node:timers/promises";
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import { PostgresIdempotencyStore } from "../internal/queue/postgres/postgres-idempotency-store.ts";
import { PostgresQueue } from "../internal/queue/postgres/postgres-queue.ts";
import { createTestDatabase } from "../test/postgres.ts";
import { queueSettings } from "../test/queue-settings.ts";
import { openMigratedRouter } from "../test/store.ts";
import { benchOptions } from "./bench-options.ts";
import { drainRate } from "./in-process-worker.ts";
import { machineDescription } from "./machine.ts";
import { TARGETS } from "./targets.ts";

const args = benchOptions({ jobs: 30_000, batch: 1_000, batchFlag: "claim-batch" });
const { jobs: JOBS, concurrency: CONCURRENCY, batch: CLAIM_BATCH } = args;
const BATCH = 1_000;

async function emailWorker(): Promise<number> {
  const database = await createTestDatabase("ew_bench");
  const router = await openMigratedRouter({ DATABASE_URL: database.url });
  try {
    const queue = new PostgresQueue({
      ...queueSettings().postgres,
      db: router.master,
      visibilityTimeoutMs: 60_000,
      pollIntervalMs: 200,
      claimBatch: CLAIM_BATCH,
    });
    return await drainRate(
      {
        name: "ew-bench-postgres",
        concurrency: CONCURRENCY,
        backend: {
          queue,
          idempotency: new PostgresIdempotencyStore(router.master),
          close: () => queue.close(),
        },
      },
      JOBS,
      BATCH,
    );
  } finally {
    await router.destroy();
    await database.drop();
  }
}

async function graphileWorker(): Promise<number> {
  const database = await createTestDatabase("ew_bench_graphile");
  try {
    const utils = await makeWorkerUtils({ connectionString: database.url });
    await utils.migrate();
    for (let i = 0; i < JOBS; i += BATCH) {
      await utils.addJobs(
        Array.from({ length: Math.min(BATCH, JOBS - i) }, (_, k) => ({
          identifier: "email",
          payload: { to: `u${i + k}@example.org` },
        })),
      );
    }
    await utils.release();
    let done = 0;
    const started = performance.now();
    const runner = await run({
      connectionString: database.url,
      concurrency: CONCURRENCY,
      noHandleSignals: true,
      pollInterval: 200,
      taskList: {
        email: async () => {
          done++;
        },
      },
      // Only errors are worth seeing during a measurement.
      logger: new Logger(() => (level, message) => {
        if (level === "error") console.error(`graphile-worker: ${message}`);
      }),
      preset: {
        worker: {
          maxPoolSize: 25,
          localQueue: { size: 500 },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    });
    while (done < JOBS) await sleep(5);
    const seconds = (performance.now() - started) / 1000;
    await runner.stop();
    await runner.promise;
    return Math.round(JOBS / seconds);
  } finally {
    await database.drop();
  }
}

// --only ours|peer runs one side (for profiling with --cpu-prof); the ratio needs both.
const peer = args.only === "ours" ? Number.NaN : await graphileWorker();
const ours = args.only === "peer" ? Number.NaN : await emailWorker();
const report = {
  date: new Date().toISOString(),
  machine: machineDescription(),
  scenario: "postgres queue vs graphile-worker, instant job",
  settings: { jobs: JOBS, concurrency: CONCURRENCY },
  results: { email_worker_jobs_per_second: ours, graphile_worker_jobs_per_second: peer },
  ratio: Number((ours / peer).toFixed(2)),
};
if (args.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`${report.date}  ${report.machine}  jobs=${JOBS} concurrency=${CONCURRENCY}`);
  console.log(`email-worker (postgres queue, instant provider)  ${ours} jobs/s`);
  console.log(`graphile-worker (local queue, batched completion) ${peer} jobs/s`);
  console.log(`ratio: ${report.ratio}× (target ≥ ${TARGETS.postgresQueueRatio}×)`);
}
