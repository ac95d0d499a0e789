// The worker processes the out-of-process benches measure: ours as the Docker image runs it (the
// compiled service, the CMD's Node flags), and the BullMQ + nodemailer peer.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { dockerfileCmd } from "../test/dockerfile.ts";
import { type RunningProcess, startProcess } from "../test/process.ts";
import { redisUrl } from "../test/redis.ts";
import { BENCH_TEMPLATE } from "./workload.ts";

const root = new URL("../", import.meta.url);

export interface WorkerProcess {
  pid: number;
  /** Its HTTP port (API, /metrics), for ours; 0 for the peer, which serves none. */
  httpPort: number;
  /** The Node flags it runs with. */
  nodeFlags: string[];
  /** Everything it printed (its logs: ours logs warnings and errors in the benches). */
  output(): string;
  stop(): Promise<void>;
}

/** The runtime stage's CMD: `node <flags…> <entry>`. */
export function imageCommand(): { flags: string[]; entry: string } {
  const cmd = dockerfileCmd();
  if (cmd[0] !== "node" || cmd.length < 2)
    throw new Error(`unexpected Dockerfile CMD: ${JSON.stringify(cmd)}`);
  return { flags: cmd.slice(1, -1), entry: cmd.at(-1) as string };
}

/**
 * The flags our worker runs with: the image's, unless BENCH_WORKER_NODE_FLAGS replaces them ("" for
 * V8's defaults); BENCH_PROFILE_DIR adds a CPU profile.
 */
function workerNodeFlags(): string[] {
  const override = process.env.BENCH_WORKER_NODE_FLAGS;
  const flags = override === undefined ? imageCommand().flags : override.split(/\s+/).filter(Boolean);
  const profileDir = process.env.BENCH_PROFILE_DIR;
  return profileDir ? [...flags, "--cpu-prof", `--cpu-prof-dir=${profileDir}`] : flags;
}

async function stopProcess(worker: RunningProcess): Promise<void> {
  worker.child.kill("SIGTERM");
  await worker.exit();
}

export interface EmailWorkerSettings {
  queueName: string;
  databaseUrl: string;
  smtpPort: number;
  smtpPool: number;
  concurrency: number;
  readBatch: number;
  /** More settings for the worker's environment (DKIM keys, say). */
  env?: Record<string, string>;
}

/**
 * Starts the compiled service (`npm run build` first: the bench scripts do) on Redis, sending over
 * SMTP, and resolves once it answers HTTP.
 */
export function startEmailWorker(settings: EmailWorkerSettings): Promise<WorkerProcess> {
  return startService(
    {
      QUEUE_NAME: settings.queueName,
      DATABASE_URL: settings.databaseUrl,
      EMAIL_DEFAULT_PROVIDER: "smtp",
      SMTP_HOST: "127.0.0.1",
      SMTP_PORT: String(settings.smtpPort),
      SMTP_USE_TLS: "false",
      SMTP_POOL_SIZE: String(settings.smtpPool),
      SMTP_FROM_EMAIL: "noreply@example.com",
      WORKER_COUNT: String(settings.concurrency),
      WORKER_BATCH_SIZE: String(settings.concurrency),
      QUEUE_BATCH_SIZE: String(settings.readBatch),
    },
    settings.env,
  );
}

export interface EmailApiSettings {
  queueName: string;
  databaseUrl: string;
  /** The gRPC port it listens on. */
  grpcPort: number;
  /** More settings for its environment (API_KEYS, say). */
  env?: Record<string, string>;
}

/**
 * Starts the compiled service as the API role (`ROLE=api`: takes emails over gRPC and HTTP, consumes
 * nothing) on Redis, as the image runs it, and resolves once it answers HTTP. Nothing is sent.
 */
export function startEmailApi(settings: EmailApiSettings): Promise<WorkerProcess> {
  return startService(
    {
      ROLE: "api",
      GRPC_PORT: String(settings.grpcPort),
      QUEUE_NAME: settings.queueName,
      DATABASE_URL: settings.databaseUrl,
      // Intake only checks that a job's provider is configured; the outbox needs no server.
      EMAIL_DEFAULT_PROVIDER: "outbox",
    },
    settings.env,
  );
}

/**
 * The compiled service with the benches' common environment plus `env`, then BENCH_WORKER_ENV, then
 * `overrides`; resolves once it answers /readyz.
 */
async function startService(
  env: Record<string, string>,
  overrides: Record<string, string> = {},
): Promise<WorkerProcess> {
  const { entry } = imageCommand();
  const entryPath = fileURLToPath(new URL(entry, root));
  const cwd = mkdtempSync(join(tmpdir(), "ew-bench-"));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const nodeFlags = workerNodeFlags();
  const worker = startProcess(entryPath, {
    cwd,
    nodeArgs: nodeFlags,
    env: {
      PORT: String(port),
      GRPC_PORT: "0",
      LOG_LEVEL: "warn",
      QUEUE_DRIVER: "redis",
      REDIS_URL: redisUrl(),
      ...env,
      // More Node options for experiments (NODE_OPTIONS takes only some V8 flags).
      NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? "",
      // More environment for experiments, "NAME=value NAME2=value2" (MALLOC_ARENA_MAX=2, say).
      ...Object.fromEntries(
        (process.env.BENCH_WORKER_ENV ?? "")
          .split(/\s+/)
          .filter((pair) => pair.includes("="))
          .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
      ),
      ...overrides,
    },
  });
  const stop = async () => {
    await stopProcess(worker);
    rmSync(cwd, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (worker.child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the service did not get ready:\n${worker.output()}`);
    }
    await sleep(100);
  }
  return { pid: worker.child.pid as number, httpPort: port, nodeFlags, output: worker.output, stop };
}

export interface BullmqWorkerSettings {
  queueName: string;
  smtpPort: number;
  smtpPool: number;
  concurrency: number;
}

/**
 * Starts bench/bullmq-worker.mjs (BullMQ + pooled nodemailer) and resolves once it consumes. It runs
 * on V8's defaults, as a BullMQ deployment would, unless BENCH_PEER_NODE_FLAGS gives it flags (ours,
 * say, to compare like with like).
 */
export async function startBullmqWorker(settings: BullmqWorkerSettings): Promise<WorkerProcess> {
  const nodeFlags = (process.env.BENCH_PEER_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
  const worker = startProcess(fileURLToPath(new URL("./bullmq-worker.mjs", import.meta.url)), {
    cwd: process.cwd(),
    nodeArgs: nodeFlags,
    env: {
      BENCH_TEMPLATE: JSON.stringify(BENCH_TEMPLATE),
      BENCH_QUEUE: settings.queueName,
      SMTP_PORT: String(settings.smtpPort),
      SMTP_POOL_SIZE: String(settings.smtpPool),
      CONCURRENCY: String(settings.concurrency),
    },
  });
  await worker.waitFor("ready", 30_000);
  return {
    pid: worker.child.pid as number,
    httpPort: 0,
    nodeFlags,
    output: worker.output,
    stop: () => stopProcess(worker),
  };
}
