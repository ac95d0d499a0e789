// npm run bench [-- --json]
// Every scenario of the README's Benchmark section, one after another (each bench in its own
// process, as `npm run bench:<name> -- --json` runs it), then the README's table: each figure against
// its peer from the same run and each target met or missed. Takes 10–15 minutes; the campaign and
// soak benches run for much longer and stay separate. Needs what the benches need (Redis, PostgreSQL,
// Postfix's smtp-sink: `npm run setup:test` installs them) and a build (`npm run bench` builds first).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DeliveryReport, Result as DeliveryResult } from "./delivery.ts";
import { machineDescription } from "./machine.ts";
import { TARGETS } from "./targets.ts";

const { values } = parseArgs({ options: { json: { type: "boolean", default: false } } });

/** Runs `bench/<script>` with `--json` on this Node and parses the report it prints. */
async function runBench<T>(script: string, args: string[] = []): Promise<T> {
  const entry = fileURLToPath(new URL(script, import.meta.url));
  process.stderr.write(`running ${script} ${args.join(" ")}…\n`);
  const child = spawn(process.execPath, [entry, "--json", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  // The report is the last thing printed, a JSON object starting on a line of its own.
  const start = output.search(/^\{/m);
  if (code !== 0 || start < 0)
    throw new Error(`${script} failed (exit code ${code}): ${output.slice(-2000) || "(no output)"}`);
  return JSON.parse(output.slice(start)) as T;
}

interface QueueReport {
  settings: { jobs: number; concurrency: number };
  results: { email_worker_jobs_per_second: number; bullmq_noop_jobs_per_second: number };
  ratio: number;
}
interface LatencyReport {
  settings: { backlog: number };
  results: { p50_ms: number; p99_ms: number; max_ms: number };
}
interface PostgresReport {
  settings: { jobs: number };
  results: { email_worker_jobs_per_second: number; graphile_worker_jobs_per_second: number };
  ratio: number;
}
interface MemoryResult {
  peak_rss_mb: number;
  started_rss_mb: number;
  jobs_per_second: number;
  worker_cpu_ms_per_1000_jobs: number;
}
interface MemoryReport {
  settings: { jobs: number };
  results: [MemoryResult, MemoryResult];
}
interface ApiRun {
  name: string;
  achieved_rps: number;
  p50_ms: number;
  p99_ms: number;
  errors_total: number;
  server_cpu_ms_per_1000: number;
}
interface ApiReport {
  settings: { rate: number; connections: number };
  runs: ApiRun[];
  max_throughput_ratio_vs_peer: number;
  p99_target_met: { ours: boolean; peer: boolean };
}

interface Row {
  scenario: string;
  email_worker: string;
  peer: string;
  ratio: string;
  target: string;
  met: boolean;
}

const n = (value: number) => Math.round(value).toLocaleString("en-US");
const verdict = (met: boolean, missedBy: string) => (met ? "met" : `**missed** (${missedBy})`);
/** How far a figure that should be at least `target` got, as a share of the target. */
const reached = (value: number, target: number) => `${Math.round((100 * value) / target)}% of it`;

function deliveryRows(report: DeliveryReport): Row[] {
  const rows: Row[] = [];
  const { jobs, smtp_pool: pool } = report.settings;
  for (const [label, run] of [
    ["Postfix smtp-sink", report.postfix_smtp_sink],
    ["Node sink", report.node_sink],
  ] as const) {
    const [ours, tracked, peer] = run.results;
    const latency = (r: DeliveryResult) =>
      r.latency_p99_ms === null ? "" : `, p50 ${n(r.latency_p50_ms ?? 0)} ms, p99 ${n(r.latency_p99_ms)} ms`;
    const cpu = (r: DeliveryResult) => `${n(r.worker_cpu_ms_per_1000_jobs)} ms CPU per 1,000`;
    const ratioMet = run.throughput_ratio_vs_bullmq >= TARGETS.fastPathRatio;
    rows.push({
      scenario: `(b) fast path → ${label}, ${n(jobs)} jobs, ${pool} connections`,
      email_worker: `${n(ours.jobs_per_second)} jobs/s${latency(ours)}, ${cpu(ours)}`,
      peer: `${n(peer.jobs_per_second)} jobs/s${latency(peer)}, ${cpu(peer)}`,
      ratio: `${run.throughput_ratio_vs_bullmq}×`,
      target: `≥ ${TARGETS.fastPathRatio}×: ${verdict(ratioMet, reached(run.throughput_ratio_vs_bullmq, TARGETS.fastPathRatio))}`,
      met: ratioMet,
    });
    const shareMet = run.share_of_ceiling.email_worker >= TARGETS.fastPathCeilingShare;
    rows.push({
      scenario: `(b) share of the raw ceiling (${label}: ${n(run.raw_ceiling_jobs_per_second)} msgs/s)`,
      email_worker: String(run.share_of_ceiling.email_worker),
      peer: String(run.share_of_ceiling.bullmq),
      ratio: "",
      target: `≥ ${TARGETS.fastPathCeilingShare}: ${verdict(shareMet, reached(run.share_of_ceiling.email_worker, TARGETS.fastPathCeilingShare))}`,
      met: shareMet,
    });
    const trackedMet = run.tracked_share_of_fast_path >= TARGETS.trackedShareOfFastPath;
    rows.push({
      scenario: `(c) tracked path → ${label}, same run`,
      email_worker: `${n(tracked.jobs_per_second)} jobs/s, ${cpu(tracked)}`,
      peer: `fast path ${n(ours.jobs_per_second)}`,
      ratio: `${run.tracked_share_of_fast_path} of the fast path`,
      target: `≥ ${TARGETS.trackedShareOfFastPath}: ${verdict(trackedMet, reached(run.tracked_share_of_fast_path, TARGETS.trackedShareOfFastPath))}`,
      met: trackedMet,
    });
  }
  return rows;
}

async function main(): Promise<void> {
  const started = new Date();
  const queue = await runBench<QueueReport>("queue-overhead.ts");
  const delivery = await runBench<DeliveryReport>("delivery.ts");
  const latency = await runBench<LatencyReport>("critical-latency.ts");
  const postgres = await runBench<PostgresReport>("postgres-queue.ts");
  const memory = await runBench<MemoryReport>("backlog-memory.ts");
  const api = await runBench<ApiReport>("api-load.ts");

  const [oursMemory, peerMemory] = memory.results;
  const apiRun = (name: string) => {
    const run = api.runs.find((r) => r.name === name);
    if (!run) throw new Error(`api-load.ts reported no run named ${JSON.stringify(name)}`);
    return run;
  };
  const apiOurs = apiRun(`ours ${api.settings.rate}/s`);
  const apiPeer = apiRun(`peer ${api.settings.rate}/s`);
  const rows: Row[] = [
    {
      scenario: `(a) queue + worker, ${n(queue.settings.jobs)} jobs, instant provider`,
      email_worker: `${n(queue.results.email_worker_jobs_per_second)} jobs/s`,
      peer: `${n(queue.results.bullmq_noop_jobs_per_second)} jobs/s`,
      ratio: `${queue.ratio}×`,
      target: `≥ ${TARGETS.queueOverheadRatio}×: ${verdict(queue.ratio >= TARGETS.queueOverheadRatio, reached(queue.ratio, TARGETS.queueOverheadRatio))}`,
      met: queue.ratio >= TARGETS.queueOverheadRatio,
    },
    ...deliveryRows(delivery),
    {
      scenario: `(d) critical while ${n(latency.settings.backlog)} low drain`,
      email_worker: `p50 ${latency.results.p50_ms} ms, p99 ${latency.results.p99_ms} ms`,
      peer: "",
      ratio: "",
      target: `p99 ≤ ${TARGETS.criticalP99Ms} ms: ${verdict(latency.results.p99_ms <= TARGETS.criticalP99Ms, `${latency.results.p99_ms} ms`)}`,
      met: latency.results.p99_ms <= TARGETS.criticalP99Ms,
    },
    {
      scenario: `(e) postgres queue, ${n(postgres.settings.jobs)} jobs, against graphile-worker`,
      email_worker: `${n(postgres.results.email_worker_jobs_per_second)} jobs/s`,
      peer: `${n(postgres.results.graphile_worker_jobs_per_second)} jobs/s`,
      ratio: `${postgres.ratio}×`,
      target: `≥ ${TARGETS.postgresQueueRatio}×: ${verdict(postgres.ratio >= TARGETS.postgresQueueRatio, reached(postgres.ratio, TARGETS.postgresQueueRatio))}`,
      met: postgres.ratio >= TARGETS.postgresQueueRatio,
    },
    {
      scenario: `worker peak RSS draining a ${n(memory.settings.jobs)} backlog`,
      email_worker: `${oursMemory.peak_rss_mb} MB (${oursMemory.started_rss_mb} at start), ${n(oursMemory.jobs_per_second)} jobs/s`,
      peer: `${peerMemory.peak_rss_mb} MB (${peerMemory.started_rss_mb} at start), ${n(peerMemory.jobs_per_second)} jobs/s`,
      ratio: String((oursMemory.peak_rss_mb / peerMemory.peak_rss_mb).toFixed(2)),
      target: `< ${TARGETS.backlogPeakRssMb} MB: ${verdict(oursMemory.peak_rss_mb < TARGETS.backlogPeakRssMb, `${oursMemory.peak_rss_mb - TARGETS.backlogPeakRssMb} MB over`)}`,
      met: oursMemory.peak_rss_mb < TARGETS.backlogPeakRssMb,
    },
    {
      scenario: `API role: SendEmail at ${n(api.settings.rate)} req/s (peer: BullMQ Queue.add behind HTTP)`,
      email_worker: `${n(apiOurs.achieved_rps)} req/s, p50 ${apiOurs.p50_ms} ms, p99 ${apiOurs.p99_ms} ms, ${apiOurs.errors_total} errors`,
      peer: `${n(apiPeer.achieved_rps)} req/s, p50 ${apiPeer.p50_ms} ms, p99 ${apiPeer.p99_ms} ms`,
      ratio: `max throughput ${api.max_throughput_ratio_vs_peer}×`,
      target: `p99 < ${TARGETS.apiP99Ms} ms: ${verdict(api.p99_target_met.ours, `p99 ${apiOurs.p99_ms} ms`)}`,
      met: api.p99_target_met.ours,
    },
  ];
  const report = {
    date: started.toISOString(),
    machine: machineDescription(),
    rows,
    reports: { queue, delivery, latency, postgres, memory, api },
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(`Measured ${report.date.slice(0, 10)} on ${report.machine}.\n`);
  console.log("| scenario | email-worker | peer | ratio | target |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const row of rows)
    console.log(`| ${row.scenario} | ${row.email_worker} | ${row.peer} | ${row.ratio} | ${row.target} |`);
  const missed = rows.filter((row) => !row.met).length;
  console.log(`\n${rows.length - missed} of ${rows.length} targets met.`);
}

await main();
