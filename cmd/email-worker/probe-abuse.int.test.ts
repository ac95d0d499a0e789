import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../test/postgres.ts";
import { startProcess } from "../../test/process.ts";
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from "../../test/redis.ts";
import { until } from "../../test/until.ts";

const entry = fileURLToPath(new URL("./main.ts", import.meta.url));
const ONE_MB = 1024 * 1024;

/**
 * The open endpoints under abuse, against the service as operators run it (Redis queue, PostgreSQL):
 * a flood of /health must not make it unready or slow, and clients' job types must not grow /metrics.
 */
describe("email-worker under probe floods and job-type sprawl", () => {
  let service: RunningService | undefined;
  let base = "";

  beforeAll(async () => {
    service = await startService();
    base = service.base;
  });

  afterAll(async () => service?.close());

  it("stays ready and takes a tracked job within a second while 10,000 /health requests arrive", {
    timeout: 120_000,
  }, async () => {
    const total = 10_000;
    let sent = 0;
    const healthStatuses = new Map<number, number>();
    const flood = async () => {
      while (sent < total) {
        sent++;
        const response = await fetch(`${base}/health`);
        await response.arrayBuffer();
        healthStatuses.set(response.status, (healthStatuses.get(response.status) ?? 0) + 1);
      }
    };
    const flooding = Promise.all(Array.from({ length: 50 }, flood));

    const readyz: number[] = [];
    const watchReadiness = async () => {
      while (sent < total) {
        const response = await fetch(`${base}/readyz`);
        await response.arrayBuffer();
        readyz.push(response.status);
        await sleep(50);
      }
    };
    const watching = watchReadiness();

    await until(async () => sent >= total / 4, 60_000, "the flood to get going");
    const started = performance.now();
    const posted = await fetch(`${base}/v1/emails`, {
      method: "POST",
      body: JSON.stringify({
        type: "welcome_email",
        recipient_email: "ada@example.org",
        subject: "Hello",
        text: "Hello Ada",
        tracked: true,
      }),
    });
    const latencyMs = performance.now() - started;
    await posted.arrayBuffer();
    const floodStillRunning = sent < total;
    await Promise.all([flooding, watching]);

    console.info(`tracked POST during the /health flood: ${posted.status} in ${latencyMs.toFixed(0)} ms`);
    expect(floodStillRunning).toBe(true);
    expect(posted.status).toBe(202);
    expect(latencyMs).toBeLessThan(1_000);
    expect(Object.fromEntries(healthStatuses)).toEqual({ 200: total });
    expect(readyz.length).toBeGreaterThan(0);
    expect(readyz.every((status) => status === 200)).toBe(true);
  });

  it("keeps /metrics under 1 MB after 20,000 jobs with distinct types", { timeout: 300_000 }, async () => {
    const total = 20_000;
    const batch = 500;
    for (let first = 0; first < total; first += batch) {
      const jobs = Array.from({ length: batch }, (_, i) => ({
        type: `sprawl_${first + i}`,
        recipient_email: `u${first + i}@example.org`,
        subject: "Hi",
        text: "Hi",
        tracked: (first + i) % 2 === 0,
      }));
      const response = await fetch(`${base}/v1/emails`, { method: "POST", body: JSON.stringify({ jobs }) });
      await response.arrayBuffer();
      expect(response.status).toBe(207);
    }
    let exposition = "";
    await until(
      async () => {
        exposition = await (await fetch(`${base}/metrics`)).text();
        return processed(exposition) >= total;
      },
      240_000,
      "every job to be processed",
    );
    const bytes = Buffer.byteLength(exposition);
    console.info(`/metrics after ${total} distinct job types: ${bytes} bytes`);
    expect(bytes).toBeLessThan(ONE_MB);
    expect(exposition).toMatch(
      /email_jobs_processed_total\{status="sent",job_type="other",provider="outbox"\} \d+/,
    );
    expect(exposition).toMatch(/email_jobs_tracked_total\{job_type="other"\} \d+/);
    const named = new Set([...exposition.matchAll(/job_type="(sprawl_\d+)"/g)].map((m) => m[1]));
    expect(named.size).toBeLessThanOrEqual(100);
  });
});

/** Jobs finished so far, from email_jobs_processed_total. */
function processed(exposition: string): number {
  let sum = 0;
  for (const match of exposition.matchAll(/^email_jobs_processed_total\{[^}]*\} (\d+)$/gm))
    sum += Number(match[1]);
  return sum;
}

interface RunningService {
  base: string;
  close(): Promise<void>;
}

/** One worker process on a fresh Redis prefix and database, with the outbox provider. */
async function startService(): Promise<RunningService> {
  const database = await createTestDatabase();
  const redis = await connectRedis();
  const name = uniquePrefix("abuse");
  const cwd = mkdtempSync(join(tmpdir(), "ew-abuse-"));
  const worker = startProcess(entry, {
    cwd,
    env: {
      QUEUE_DRIVER: "redis",
      REDIS_URL: redisUrl(),
      QUEUE_NAME: name,
      QUEUE_POLL_INTERVAL: "200ms",
      DATABASE_URL: database.url,
      WORKER_COUNT: "20",
      WORKER_BATCH_SIZE: "50",
      // Any free ports; the HTTP one is read from the start-up line, logged at info.
      PORT: "0",
      GRPC_PORT: "0",
      LOG_LEVEL: "info",
    },
  });
  const close = async () => {
    worker.child.kill("SIGKILL");
    await worker.exit();
    await deleteKeys(redis, name);
    redis.disconnect();
    await database.drop();
    rmSync(cwd, { recursive: true, force: true });
  };
  try {
    await worker.waitFor('"msg":"email-worker started"');
  } catch (error) {
    await close();
    throw error;
  }
  return { base: `http://127.0.0.1:${Number(/"http_port":(\d+)/.exec(worker.output())?.[1])}`, close };
}
