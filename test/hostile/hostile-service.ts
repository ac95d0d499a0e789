import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { EmailWorkerClient } from "../../internal/client/email-worker-client.ts";
import { createTestDatabase, type TestDatabase } from "../postgres.ts";
import { type RunningProcess, startProcess } from "../process.ts";
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from "../redis.ts";
import { type SmtpSink, startSmtpSink } from "../smtp-sink.ts";
import { startWireTap, type WireTap } from "./wire-tap.ts";

const entry = fileURLToPath(new URL("../../cmd/email-worker/main.ts", import.meta.url));

/** Obviously fake keys: the attacker holds the send one, the operator the admin one. */
export const SEND_KEY = "hostile-test-send-key";
export const ADMIN_KEY = "hostile-test-admin-key";
const sha256 = (key: string) => createHash("sha256").update(key).digest("hex");

export interface HostileService {
  /** http://127.0.0.1:<port> */
  base: string;
  /** gRPC clients holding the send-scope and the admin key. */
  send: EmailWorkerClient;
  admin: EmailWorkerClient;
  /**
   * The SMTP server the service delivers to (smtp-server), and the raw bytes sent to it. With
   * `options.smtp` there is no sink (reading it throws); the tap relays to that server instead.
   */
  sink: SmtpSink;
  wire: WireTap;
  redis: Redis;
  /** The queue name: the Redis key prefix of this service's streams. */
  queueName: string;
  /** Everything the service printed (its JSON log lines). */
  output(): string;
  /** POSTs JSON (or a raw string) to `path` with the send key; the status and the parsed answer. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
  get(path: string): Promise<Answer>;
  /** The service process's resident set now (from /proc), in bytes. */
  rssBytes(): number;
  /** SIGKILLs the service (a crashed pod) and starts it again on the same queue, database and sink. */
  restart(): Promise<void>;
  kill(): Promise<void>;
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  /** The parsed JSON (fields read with a cast where a test needs them), or the text if not JSON. */
  body: Record<string, unknown>;
}

export interface HostileServiceOptions {
  /**
   * A real SMTP server on this machine to deliver to (a Postfix instance) in place of the
   * smtp-server sink; the wire tap still sits in front of it. Its TLS settings go in `env`.
   */
  smtp?: { port: number };
}

/**
 * The service as operators run it (Redis Streams queue, PostgreSQL, an SMTP relay, API keys), for
 * attacks to be made against: one process per test file, on its own queue, database and sink.
 * `env` is added to (and overrides) the service's environment.
 */
export async function startHostileService(
  env: Record<string, string> = {},
  options: HostileServiceOptions = {},
): Promise<HostileService> {
  const database: TestDatabase = await createTestDatabase("ew_hostile");
  const redis = await connectRedis();
  const queueName = uniquePrefix("hostile");
  const sink = options.smtp ? undefined : await startSmtpSink();
  const wire = await startWireTap(options.smtp?.port ?? sink?.port ?? 0);
  const cwd = mkdtempSync(join(tmpdir(), "ew-hostile-"));
  const serviceEnv = {
    QUEUE_DRIVER: "redis",
    REDIS_URL: redisUrl(),
    QUEUE_NAME: queueName,
    QUEUE_POLL_INTERVAL: "100ms",
    DATABASE_URL: database.url,
    EMAIL_DEFAULT_PROVIDER: "smtp",
    SMTP_HOST: "127.0.0.1",
    SMTP_PORT: String(wire.port),
    SMTP_USE_TLS: "false",
    SMTP_FROM_EMAIL: "noreply@shop.example",
    SMTP_FROM_NAME: "Shop",
    API_KEYS: JSON.stringify([
      { name: "booking", sha256: sha256(SEND_KEY), scopes: ["send"] },
      { name: "ops", sha256: sha256(ADMIN_KEY), scopes: ["send", "admin"] },
    ]),
    // Any free ports, read back from the start-up line.
    PORT: "0",
    GRPC_PORT: "0",
    LOG_LEVEL: "info",
    ...env,
  };

  let worker: RunningProcess | undefined;
  let base = "";
  let grpcAddress = "";
  const clients: EmailWorkerClient[] = [];
  const start = async () => {
    worker = startProcess(entry, { cwd, env: serviceEnv });
    await worker.waitFor('"msg":"email-worker started"');
    const started = worker
      .output()
      .split("\n")
      .find((line) => line.includes('"msg":"email-worker started"'));
    const ports = JSON.parse(started ?? "{}") as { http_port: number; grpc_port: number };
    base = `http://127.0.0.1:${ports.http_port}`;
    grpcAddress = `127.0.0.1:${ports.grpc_port}`;
  };
  const kill = async () => {
    if (!worker) return;
    worker.child.kill("SIGKILL");
    await worker.exit();
  };
  const close = async () => {
    for (const client of clients) client.close();
    await kill();
    await wire.close();
    await sink?.close();
    await deleteKeys(redis, queueName);
    redis.disconnect();
    await database.drop();
    rmSync(cwd, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (error) {
    await close();
    throw error;
  }

  // Clients of the process running now: a restart listens on new ports.
  let sendClient: EmailWorkerClient | undefined;
  let adminClient: EmailWorkerClient | undefined;
  const client = (apiKey: string) => {
    const made = new EmailWorkerClient({ address: grpcAddress, apiKey, timeoutMs: 15_000 });
    clients.push(made);
    return made;
  };
  const answer = async (response: Response): Promise<Answer> => {
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) };
    } catch {
      return { status: response.status, body: { text } };
    }
  };

  const service: HostileService = {
    get base() {
      return base;
    },
    get send() {
      sendClient ??= client(SEND_KEY);
      return sendClient;
    },
    get admin() {
      adminClient ??= client(ADMIN_KEY);
      return adminClient;
    },
    get sink() {
      if (!sink) throw new Error("this service delivers to options.smtp, not to an smtp-server sink");
      return sink;
    },
    wire,
    redis,
    queueName,
    output: () => worker?.output() ?? "",
    post: async (path, body, headers = {}) =>
      answer(
        await fetch(`${base}${path}`, {
          method: "POST",
          headers: { "x-api-key": SEND_KEY, "content-type": "application/json", ...headers },
          body: typeof body === "string" ? body : JSON.stringify(body),
        }),
      ),
    get: async (path) => answer(await fetch(`${base}${path}`, { headers: { "x-api-key": SEND_KEY } })),
    rssBytes() {
      const status = readFileSync(`/proc/${worker?.child.pid}/status`, "utf8");
      return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
    },
    async restart() {
      await kill();
      sendClient = adminClient = undefined;
      await start();
    },
    kill,
    close,
  };
  return service;
}

/** The service's event-loop delay since the previous scrape (prom-client resets it at each scrape). */
export interface EventLoopLag {
  maxMs: number;
  p99Ms: number;
}

export async function eventLoopLag(base: string): Promise<EventLoopLag> {
  const exposition = await (await fetch(`${base}/metrics`)).text();
  const read = (name: string) => {
    const seconds = new RegExp(`^${name} (\\S+)$`, "m").exec(exposition)?.[1];
    if (seconds === undefined) throw new Error(`/metrics has no ${name}`);
    return Number(seconds) * 1000;
  };
  return { maxMs: read("nodejs_eventloop_lag_max_seconds"), p99Ms: read("nodejs_eventloop_lag_p99_seconds") };
}
