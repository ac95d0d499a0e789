// npm run bench:api [-- --rate 2000 --seconds 20 --warmup 3 --connections 64 --max-seconds 10 --json]
// The API role's SendEmail under load, against a peer, each in a process of its own. Ours: the
// compiled service as the image runs it, ROLE=api (intake only) on Redis, an API key required;
// the peer: BullMQ's Queue.add behind a minimal node:http server (bench/bullmq-api.mjs). A generator
// process (bench/grpc-load.ts) loads each side open-loop at --rate for --seconds after a --warmup not
// counted, then closed-loop with --connections requests outstanding for --max-seconds (ours on one
// HTTP/2 connection and on four). Reports latency, throughput, errors, server CPU per 1,000 requests,
// peak RSS, whether p99 < 10 ms at the rate held, and the ratio of the max throughputs; checks that
// each run's queue gained exactly the jobs answered OK (exit code 1 if not), then deletes them.
// Needs Redis and PostgreSQL on localhost.
import { spawn } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Queue } from "bullmq";
import { LANES } from "../internal/job/priority.ts";
import { queueKeys } from "../internal/queue/redis/queue-keys.ts";
import { TemplateRepository } from "../internal/store/template-repository.ts";
import { freePort } from "../test/free-port.ts";
import { createTestDatabase } from "../test/postgres.ts";
import { startProcess } from "../test/process.ts";
import { connectRedis, deleteKeys } from "../test/redis.ts";
import { openMigratedRouter } from "../test/store.ts";
import type { LoadResult } from "./grpc-load.ts";
import { machineDescription } from "./machine.ts";
import { cpuMs, peakRssMb } from "./process-usage.ts";
import { TARGETS } from "./targets.ts";
import { startEmailApi, type WorkerProcess } from "./worker-processes.ts";
import { BENCH_TEMPLATE } from "./workload.ts";

const P99_TARGET_MS = TARGETS.apiP99Ms;

function benchArgs() {
  const { values } = parseArgs({
    options: {
      rate: { type: "string", default: String(TARGETS.apiRate) },
      seconds: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      connections: { type: "string", default: "64" },
      "max-seconds": { type: "string", default: "10" },
      json: { type: "boolean", default: false },
    },
  });
  const number = (name: "rate" | "seconds" | "warmup" | "connections" | "max-seconds") => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < (name === "warmup" ? 0 : 1))
      throw new Error(`--${name} must be a whole number${name === "warmup" ? "" : " above 0"}`);
    return value;
  };
  return {
    rate: number("rate"),
    seconds: number("seconds"),
    warmup: number("warmup"),
    connections: number("connections"),
    maxSeconds: number("max-seconds"),
    json: values.json === true,
  };
}

const args = benchArgs();

/** One generator run against one server, with what it cost the server. */
interface Run extends LoadResult {
  name: string;
  server_cpu_ms_per_1000: number;
  server_peak_rss_mb: number;
  /** Jobs the run added to the queue: its ok_total, if every answer was true. */
  queued: number;
}

/** A server under test: its process, and how many jobs its queue holds now. */
interface Side {
  pid: number;
  queued(): Promise<number>;
}

/** Runs the generator process once with `flags` and returns its result line. */
async function generate(flags: string[], env: Record<string, string> = {}): Promise<LoadResult> {
  const entry = fileURLToPath(new URL("./grpc-load.ts", import.meta.url));
  const generator = spawn(process.execPath, [entry, ...flags], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  generator.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  generator.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = (await once(generator, "close")) as [number | null];
  const last = output.trim().split("\n").at(-1) ?? "";
  if (code !== 0 || !last.startsWith("{"))
    throw new Error(`the load generator failed (exit ${code}):\n${output}`);
  return JSON.parse(last) as LoadResult;
}

/**
 * One generator run against `side`, with the server CPU it cost and the jobs it added to the side's
 * queue, which should be exactly those answered OK (a request that timed out may still be queued).
 */
async function measure(
  name: string,
  side: Side,
  flags: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const queuedBefore = await side.queued();
  const cpuBefore = cpuMs(side.pid);
  const result = await generate(flags, env);
  const cpu = cpuMs(side.pid) - cpuBefore;
  return {
    name,
    ...result,
    server_cpu_ms_per_1000: Math.round((cpu * 1000) / Math.max(1, result.ok_total + result.errors_total)),
    server_peak_rss_mb: peakRssMb(side.pid),
    queued: (await side.queued()) - queuedBefore,
  };
}

/** The generator's flags: open loop at --rate, or closed loop with --connections outstanding. */
function loadFlags(mode: "grpc" | "http", target: string, loop: "open" | "closed", channels = 1): string[] {
  const common = ["--mode", mode, "--target", target, "--warmup", String(args.warmup)];
  const sockets = ["--connections", String(args.connections), "--channels", String(channels)];
  return loop === "open"
    ? [...common, ...sockets, "--rate", String(args.rate), "--seconds", String(args.seconds)]
    : [...common, ...sockets, "--seconds", String(args.maxSeconds)];
}

/** Our service, ROLE=api, with a template to send and an API key; its stream keys and database go after. */
async function benchOurs(): Promise<Run[]> {
  const database = await createTestDatabase("ew_bench_api");
  const router = await openMigratedRouter({ DATABASE_URL: database.url });
  const redis = await connectRedis();
  const queueName = `ew-bench-api:${randomUUID().slice(0, 8)}`;
  let api: WorkerProcess | undefined;
  try {
    await new TemplateRepository(router).upsert(BENCH_TEMPLATE);
    const apiKey = randomBytes(24).toString("hex");
    const sha256 = createHash("sha256").update(apiKey).digest("hex");
    const grpcPort = await freePort();
    api = await startEmailApi({
      queueName,
      databaseUrl: database.url,
      grpcPort,
      env: { API_KEYS: JSON.stringify([{ name: "booking", sha256, scopes: ["send"] }]) },
    });
    const streams = LANES.map((lane) => queueKeys(queueName, false).streams[lane]);
    const side: Side = {
      pid: api.pid,
      queued: async () =>
        (await Promise.all(streams.map((key) => redis.xlen(key)))).reduce((a, b) => a + b, 0),
    };
    const target = `127.0.0.1:${grpcPort}`;
    const env = { BENCH_API_KEY: apiKey };
    return [
      await measure(`ours ${args.rate}/s`, side, loadFlags("grpc", target, "open"), env),
      // One channel: four gave no more (the server's CPU is the limit, not the connection).
      await measure("ours max", side, loadFlags("grpc", target, "closed", 1), env),
    ];
  } finally {
    await api?.stop();
    await deleteKeys(redis, queueName);
    redis.disconnect();
    await router.destroy();
    await database.drop();
  }
}

/** The peer: bench/bullmq-api.mjs on a queue of its own, obliterated after. */
async function benchPeer(): Promise<Run[]> {
  const queueName = `bench-api-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(queueName, { connection: { host: "127.0.0.1", port: 6379 } });
  const port = await freePort();
  const server = startProcess(fileURLToPath(new URL("./bullmq-api.mjs", import.meta.url)), {
    cwd: process.cwd(),
    env: { BENCH_QUEUE: queueName, PORT: String(port) },
  });
  try {
    await server.waitFor("ready", 30_000);
    const side: Side = {
      pid: server.child.pid as number,
      queued: async () => Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0),
    };
    const target = `127.0.0.1:${port}`;
    return [
      await measure(`peer ${args.rate}/s`, side, loadFlags("http", target, "open")),
      await measure("peer max", side, loadFlags("http", target, "closed")),
    ];
  } finally {
    server.child.kill("SIGTERM");
    await server.exit();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

function printRuns(runs: Run[]): void {
  const columns = [
    ["run", 22],
    ["req/s", 7],
    ["p50 ms", 7],
    ["p90 ms", 7],
    ["p99 ms", 7],
    ["max ms", 7],
    ["errors", 6],
    ["queued", 7],
    ["srv CPU ms/1k", 13],
    ["peak RSS MB", 11],
    ["gen CPU %", 9],
    ["gen lag p99/max ms", 17],
  ] as const;
  const row = (cells: (string | number)[]) =>
    cells
      .map((cell, i) =>
        i === 0 ? String(cell).padEnd(columns[i]?.[1] ?? 0) : String(cell).padStart(columns[i]?.[1] ?? 0),
      )
      .join("  ");
  console.log(row(columns.map(([title]) => title)));
  for (const r of runs)
    console.log(
      row([
        r.name,
        r.achieved_rps,
        r.p50_ms,
        r.p90_ms,
        r.p99_ms,
        r.max_ms,
        r.errors_total,
        r.queued,
        r.server_cpu_ms_per_1000,
        r.server_peak_rss_mb,
        r.generator_cpu_percent,
        r.loop === "open" ? `${r.p99_send_lag_ms}/${r.max_send_lag_ms}` : "-",
      ]),
    );
}

const ours = await benchOurs();
const peer = await benchPeer();
const [oursRate, oursMax] = ours;
const [peerRate, peerMax] = peer;
if (!oursRate || !oursMax || !peerRate || !peerMax) throw new Error("a run is missing");
const met = (r: Run) =>
  r.p99_ms < P99_TARGET_MS && r.errors_total === 0 && r.achieved_rps >= 0.98 * args.rate;
const report = {
  date: new Date().toISOString(),
  machine: machineDescription(),
  settings: {
    rate: args.rate,
    seconds: args.seconds,
    warmup: args.warmup,
    connections: args.connections,
    max_seconds: args.maxSeconds,
  },
  runs: [...ours, ...peer],
  p99_target_ms: P99_TARGET_MS,
  p99_target_met: { ours: met(oursRate), peer: met(peerRate) },
  max_throughput_ratio_vs_peer: Number((oursMax.achieved_rps / peerMax.achieved_rps).toFixed(2)),
  /** Runs whose queue did not gain exactly the jobs answered OK. */
  queue_mismatches: [...ours, ...peer].filter((r) => r.queued !== r.ok_total).map((r) => r.name),
};
// A queue that did not gain exactly what was answered OK fails the bench, after the report.
if (report.queue_mismatches.length > 0) process.exitCode = 1;
if (args.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(
    `${report.date}  ${report.machine}  rate=${args.rate}/s for ${args.seconds} s, max with ${args.connections} outstanding for ${args.maxSeconds} s, ${args.warmup} s warm-up each`,
  );
  printRuns(report.runs);
  const verdict = (r: Run) => `${met(r) ? "met" : "missed"} (p99 ${r.p99_ms} ms at ${r.achieved_rps} req/s)`;
  console.log(
    `p99 < ${P99_TARGET_MS} ms at ${args.rate} req/s: ours ${verdict(oursRate)}; peer ${verdict(peerRate)}`,
  );
  console.log(`max throughput ours / peer: ${report.max_throughput_ratio_vs_peer}×`);
  for (const r of report.runs.filter((r) => r.first_error !== null))
    console.log(`${r.name}: ${r.errors_total} errors, the first: ${r.first_error}`);
  console.log(
    report.queue_mismatches.length === 0
      ? "every run's queue gained exactly the jobs answered OK"
      : `queue ≠ jobs answered OK in: ${report.queue_mismatches.join(", ")}`,
  );
}
