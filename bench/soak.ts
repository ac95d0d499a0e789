// npm run bench:soak [-- --jobs 1000000 --rate 1000 --fault-every 60 --json]
// A long run through every fault in turn: N jobs, mixed fast and tracked, offered through the HTTP
// API at a steady rate to the compiled worker, on a redis-server of the bench's own (AOF, fsync every
// second), a PostgreSQL cluster of its own and an SMTP sink in another process. Every
// --fault-every seconds one fault, in turn: Redis killed and restarted, the SMTP sink stalled for
// 10 s, PostgreSQL stopped (immediate) and started. At the end it counts what the sink received:
// jobs lost or left undelivered (must be 0: the exit code says), jobs sent twice against their bound
// (the jobs in flight at each fault), the worker's RSS at start, middle and end, and its event-loop
// lag p99.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { queueKeys } from "../internal/queue/redis/queue-keys.ts";
import { startPostgresServer } from "../test/postgres-server.ts";
import { startRedisServer } from "../test/redis-server.ts";
import { startSinkProcess } from "../test/smtp-sink-process.ts";
import { machineDescription } from "./machine.ts";
import { metricValue, scrapeMetrics } from "./metrics-scrape.ts";
import { rssMb } from "./process-usage.ts";
import { type FaultName, injectFault, SMTP_STALL_MS, useEverySecondFsync } from "./soak-faults.ts";
import { type IntakeTally, produce } from "./soak-producer.ts";
import { startEmailWorker } from "./worker-processes.ts";

const FAULTS: FaultName[] = ["redis-restart", "smtp-stall", "postgres-restart"];
const CONCURRENCY = 50;
const READ_BATCH = 500;
const SMTP_POOL = 5;

function options() {
  const { values } = parseArgs({
    options: {
      jobs: { type: "string", default: "1000000" },
      rate: { type: "string", default: "1000" },
      "fault-every": { type: "string", default: "60" },
      "tracked-share": { type: "string", default: "0.2" },
      settle: { type: "string", default: "180" },
      json: { type: "boolean", default: false },
    },
  });
  const positive = (name: keyof typeof values) => {
    const value = Number(values[name]);
    if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  const share = Number(values["tracked-share"]);
  if (!(share >= 0 && share <= 1)) throw new Error("--tracked-share must be within 0..1");
  return {
    jobs: Math.round(positive("jobs")),
    rate: positive("rate"),
    faultEveryMs: positive("fault-every") * 1000,
    trackedShare: share,
    /** Give up once nothing has arrived for this long after the last job was accepted. */
    settleMs: positive("settle") * 1000,
    json: values.json === true,
  };
}

interface FaultRecord {
  fault: FaultName;
  at_s: number;
  took_ms: number;
  /**
   * From the fault's start until the sink received the next email; null when none came in 60 s, or
   * when the fault began after the last job was offered (nothing new to deliver then).
   */
  recovered_ms: number | null;
  /** Messages the worker had taken and not finished just before: the most a fault can send twice. */
  in_flight: number;
}

const args = options();
const redis = await startRedisServer({ appendonly: true });
await useEverySecondFsync(redis);
const postgres = await startPostgresServer();
const sink = await startSinkProcess();
const queueName = `ew-soak:${randomUUID().slice(0, 8)}`;
let exitCode = 1;
try {
  const worker = await startEmailWorker({
    queueName,
    databaseUrl: postgres.url,
    smtpPort: sink.smtpPort,
    smtpPool: SMTP_POOL,
    concurrency: CONCURRENCY,
    readBatch: READ_BATCH,
    env: {
      REDIS_URL: redis.url,
      // Shorter than the 10 s stall, so that the stall makes sends fail as ambiguous and be retried:
      // the case that can send a message twice.
      SMTP_TIMEOUT: "5s",
      DB_CONNECT_TIMEOUT: "2s",
      DB_QUERY_TIMEOUT: "5s",
    },
  });
  const base = `http://127.0.0.1:${worker.httpPort}`;
  const started = performance.now();
  const elapsedS = () => Math.round((performance.now() - started) / 100) / 10;
  const rss = { start: rssMb(worker.pid), middle: 0, end: 0 };
  const lagP99: number[] = [];
  const faults: FaultRecord[] = [];
  const tally: IntakeTally = { accepted: new Set(), refused: new Map(), resends: 0 };
  let finished = false;
  let delivered = 0;
  /** Every job has been offered (and answered). */
  let produced = false;

  const monitor = (async () => {
    while (!finished) {
      const text = await scrapeMetrics(worker.httpPort);
      const lag = text && metricValue(text, "nodejs_eventloop_lag_p99_seconds");
      if (typeof lag === "number") lagP99.push(lag);
      if (rss.middle === 0 && delivered >= args.jobs / 2) rss.middle = rssMb(worker.pid);
      await sleep(2_000);
    }
  })();

  /** When the sink's count first passes `count` (ms after `since`), or null if it did not in 60 s. */
  const firstDeliveryAfter = async (count: number, since: number): Promise<number | null> => {
    const giveUp = performance.now() + 60_000;
    while (!finished && performance.now() < giveUp) {
      if ((await sink.count()) > count) return Math.round(performance.now() - since);
      await sleep(50);
    }
    return null;
  };

  const injector = (async () => {
    let lastEnded = started;
    for (let i = 0; ; i++) {
      // Counted from the end of the last fault, so that a 10 s stall does not crowd the next one.
      const due = lastEnded + args.faultEveryMs;
      while (!finished && performance.now() < due) await sleep(250);
      if (finished) return;
      const fault = FAULTS[i % FAULTS.length] as FaultName;
      const text = await scrapeMetrics(worker.httpPort);
      const inFlight = (text && metricValue(text, "email_queue_in_flight")) || 0;
      const at = performance.now();
      // Recovery shows in new arrivals only while jobs keep coming: after the last one is offered,
      // the sink may wait for retries that are simply not due yet.
      const measurable = !produced;
      await injectFault(fault, { redis, sink, postgres });
      lastEnded = performance.now();
      const took = Math.round(lastEnded - at);
      const record = {
        fault,
        at_s: elapsedS(),
        took_ms: took,
        in_flight: inFlight,
        // From the fault's start to the first email the sink receives after its end.
        recovered_ms: measurable ? await firstDeliveryAfter(await sink.count(), at) : null,
      };
      faults.push(record);
      if (!args.json) console.log(`  fault ${JSON.stringify(record)}`);
    }
  })();

  const producing = produce(
    {
      base,
      jobs: args.jobs,
      rate: args.rate,
      batchSize: 100,
      trackedShare: args.trackedShare,
      parallel: 8,
      newId: randomUUID,
    },
    tally,
  );
  void producing.then(() => {
    produced = true;
  });

  // Wait until the sink has every accepted job, or nothing new arrives for --settle seconds.
  let missing: string[] = [];
  let perJob: Record<string, number> = {};
  let lastProgress = performance.now();
  for (;;) {
    await sleep(2_000);
    const count = await sink.count();
    if (count > delivered) lastProgress = performance.now();
    delivered = count;
    if (!args.json && Math.round(elapsedS()) % 30 < 2)
      console.log(`  ${elapsedS()} s: accepted ${tally.accepted.size}, received ${count}`);
    if (!produced) continue;
    if (count >= tally.accepted.size) {
      perJob = (await sink.stats()).per_job;
      missing = [...tally.accepted].filter((id) => perJob[id] === undefined);
      if (missing.length === 0) break;
    }
    if (performance.now() - lastProgress > args.settleMs) {
      perJob = (await sink.stats()).per_job;
      missing = [...tally.accepted].filter((id) => perJob[id] === undefined);
      break;
    }
  }
  await producing;
  rss.end = rssMb(worker.pid);
  // Where jobs that did not arrive wait, if any do: retrying (delayed) or given up (dead letters).
  const finalMetrics = (await scrapeMetrics(worker.httpPort)) ?? "";
  const waiting = {
    delayed: metricValue(finalMetrics, "email_queue_delayed") ?? 0,
    dead_letters: metricValue(finalMetrics, "email_dead_letter_size") ?? 0,
    in_flight: metricValue(finalMetrics, "email_queue_in_flight") ?? 0,
  };
  const deadLetterReasons = waiting.dead_letters > 0 ? await deadLetterReasonsIn(redis.url, queueName) : {};
  if (rss.middle === 0) rss.middle = rss.end;
  finished = true;
  await Promise.all([monitor, injector]);
  await worker.stop();

  const seconds = elapsedS();
  const duplicates = Object.values(perJob).reduce((sum, copies) => sum + Math.max(0, copies - 1), 0);
  const bound = faults.reduce((sum, f) => sum + f.in_flight, 0);
  const sortedLag = [...lagP99].sort((a, b) => a - b);
  const lagMs = (q: number) => Math.round((sortedLag[Math.floor(q * (sortedLag.length - 1))] ?? 0) * 1000);
  const report = {
    date: new Date().toISOString(),
    machine: machineDescription(),
    settings: {
      jobs: args.jobs,
      rate_per_second: args.rate,
      tracked_share: args.trackedShare,
      fault_every_s: args.faultEveryMs / 1000,
      smtp_stall_s: SMTP_STALL_MS / 1000,
      concurrency: CONCURRENCY,
      redis: "AOF, appendfsync everysec",
    },
    seconds,
    accepted: tally.accepted.size,
    refused: tally.refused.size,
    intake_resends: tally.resends,
    /** Accepted and never received: still held by the worker (see waiting_at_end), or gone. */
    undelivered: missing.length,
    waiting_at_end: waiting,
    /** Why the dead-lettered ones were given up, with how many each. */
    dead_letter_reasons: deadLetterReasons,
    /** Undelivered beyond what the worker still holds (delayed, in flight or dead-lettered). */
    lost: Math.max(0, missing.length - waiting.delayed - waiting.in_flight - waiting.dead_letters),
    duplicates,
    duplicate_bound_in_flight_at_faults: bound,
    faults,
    rss_mb: rss,
    eventloop_lag_p99_ms: { median: lagMs(0.5), max: lagMs(1), samples: lagP99.length },
  };
  if (args.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(
      `soak: ${report.accepted} jobs accepted in ${seconds} s (${report.refused} refused, ${tally.resends} resends), ${faults.length} faults`,
    );
    console.log(`  lost: ${report.lost}`);
    if (missing.length > 0)
      console.log(
        `  undelivered: ${missing.length} (e.g. ${missing.slice(0, 3).join(", ")}); the worker still holds ${JSON.stringify(waiting)}`,
      );
    for (const [reason, count] of Object.entries(deadLetterReasons))
      console.log(`  dead-lettered ${count}× because: ${reason}`);
    console.log(`  sent twice: ${duplicates} (bound: ${bound} in flight at the faults)`);
    for (const name of FAULTS) {
      const times = faults
        .filter((f) => f.fault === name && f.recovered_ms !== null)
        .map((f) => f.recovered_ms as number)
        .sort((a, b) => a - b);
      if (times.length > 0)
        console.log(
          `  ${name}: delivery again ${times[Math.floor((times.length - 1) / 2)]} ms after the fault began (median of ${times.length}; ${times[0]}–${times.at(-1)} ms)`,
        );
    }
    console.log(`  worker RSS: ${rss.start} MB at start, ${rss.middle} MB midway, ${rss.end} MB at the end`);
    console.log(
      `  event-loop lag p99 (per scrape): median ${report.eventloop_lag_p99_ms.median} ms, max ${report.eventloop_lag_p99_ms.max} ms over ${lagP99.length} scrapes`,
    );
  }
  // Jobs still waiting in the worker when the run gives up fail it too: a soak that stops
  // delivering has not shown that nothing is lost.
  exitCode = missing.length === 0 && tally.refused.size === 0 ? 0 : 1;
} finally {
  await sink.stop();
  await postgres.destroy();
  await redis.stop();
}
process.exit(exitCode);

/** The reasons of the queue's dead letters (read straight from the bench's own Redis), counted. */
async function deadLetterReasonsIn(url: string, queue: string): Promise<Record<string, number>> {
  const client = new Redis(url);
  try {
    const entries = (await client.xrange(queueKeys(queue, false).dead, "-", "+")) as [string, string[]][];
    const reasons: Record<string, number> = {};
    for (const [, fields] of entries) {
      const reason = fields[fields.indexOf("reason") + 1] ?? "(none)";
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    return reasons;
  } finally {
    client.disconnect();
  }
}
