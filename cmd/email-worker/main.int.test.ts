import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { hasCommand, requires } from "../../test/outside-tools.ts";
import { startProcess } from "../../test/process.ts";

const entry = fileURLToPath(new URL("./main.ts", import.meta.url));
const dirs: string[] = [];
const workdir = () => {
  const dir = mkdtempSync(join(tmpdir(), "ew-main-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const promtoolInstalled = requires("promtool", hasCommand("promtool"));
/** Without promtool (outside CI) the metrics are checked, but not linted by Prometheus's own tool. */
const promtoolLint = promtoolInstalled.skip ? " (promtool lint skipped: npm run setup:test installs it)" : "";

/** The start-up log's list when a fresh database was given every migration there is. */
const EVERY_MIGRATION_APPLIED = `"applied":${JSON.stringify(
  readdirSync(new URL("../../database/migrations/", import.meta.url))
    .filter((file) => file.endsWith(".sql"))
    .sort()
    .map((file) => file.replace(/\.sql$/, "")),
)}`;

describe("email-worker process", () => {
  it.each(["SIGTERM", "SIGINT"] as const)(
    "starts on the embedded default with nothing configured and exits 0 on %s",
    async (signal) => {
      const cwd = workdir();
      const worker = startProcess(entry, { cwd, env: { PORT: "0", GRPC_PORT: "0" } });
      await worker.waitFor('"msg":"email-worker started"');
      expect(existsSync(join(cwd, "data", "pg", "PG_VERSION"))).toBe(true);
      expect(worker.output()).toContain(EVERY_MIGRATION_APPLIED);
      expect(worker.output()).toContain('"templates":["welcome_template"]');
      worker.child.kill(signal);
      expect(await worker.exit()).toEqual({ code: 0, signal: null });
      expect(worker.output()).toContain('"msg":"stopped"');
    },
  );

  it(`serves probes and Prometheus metrics with the Go service's names once it has sent an email${promtoolLint}`, async () => {
    const cwd = workdir();
    const worker = startProcess(entry, { cwd, env: { PORT: "0", GRPC_PORT: "0" } });
    await worker.waitFor('"msg":"email-worker started"');
    const port = Number(/"http_port":(\d+)/.exec(worker.output())?.[1]);
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const sent = await fetch(`${base}/v1/emails`, {
      method: "POST",
      body: JSON.stringify({
        type: "welcome_email",
        recipient_email: "ada@example.org",
        template_id: "welcome_template",
        template_data: { user_name: "Ada" },
        tracked: true,
      }),
    });
    expect(sent.status).toBe(202);
    const { job_id } = (await sent.json()) as { job_id: string };
    for (let i = 0; i < 100; i++) {
      const job = (await (await fetch(`${base}/v1/emails/${job_id}`)).json()) as { job: { status: string } };
      if (job.job.status === "sent") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const exposition = await (await fetch(`${base}/metrics`)).text();
    const samples = exposition.split("\n").filter((line) => line && !line.startsWith("#"));
    for (const line of samples) expect(line).toMatch(/^[a-zA-Z_:][\w:]*(\{[^}]*\})? [-+\d.eENaInf]+$/);
    expect(exposition).toContain(
      'email_jobs_processed_total{status="sent",job_type="welcome_email",provider="outbox"} 1',
    );
    expect(exposition).toContain('email_jobs_queued_total{priority="normal",tracked="true"} 1');
    expect(exposition).toContain('email_jobs_tracked_total{job_type="welcome_email"} 1');
    expect(exposition).toContain('email_provider_requests_total{provider="outbox",outcome="success"} 1');
    expect(exposition).toMatch(
      /email_job_processing_duration_seconds_count\{status="sent",job_type="welcome_email"\} 1/,
    );
    expect(exposition).toMatch(/^queue_size\{lane="critical"\} 0$/m);
    expect(exposition).toContain("# TYPE email_provider_errors_total counter");
    expect(exposition).toContain("process_resident_memory_bytes");
    // promtool lints the service's own metrics (prom-client's Node gauges named *_total would fail it).
    const own = exposition
      .split("\n")
      .filter((line) => !/^(# (HELP|TYPE) )?(process_|nodejs_)/.test(line))
      .join("\n");
    if (!promtoolInstalled.skip) {
      const lint = spawnSync("promtool", ["check", "metrics"], { input: own, encoding: "utf8" });
      expect(lint.error, "promtool is missing: npm run setup:test installs it").toBeUndefined();
      expect(`${lint.stdout}${lint.stderr}`.trim()).toBe("");
      expect(lint.status).toBe(0);
    }
    expect(exposition).not.toContain("ada@example.org");
    expect(exposition).not.toContain(job_id);
    worker.child.kill("SIGTERM");
    expect((await worker.exit()).code).toBe(0);
  });

  it("keeps its data across restarts and migrates only once", async () => {
    const cwd = workdir();
    for (const expected of [EVERY_MIGRATION_APPLIED, '"applied":[]']) {
      const worker = startProcess(entry, { cwd, env: { PORT: "0", GRPC_PORT: "0" } });
      await worker.waitFor('"msg":"email-worker started"');
      expect(worker.output()).toContain(expected);
      worker.child.kill("SIGTERM");
      expect((await worker.exit()).code).toBe(0);
    }
  });

  it("refuses to start on an invalid setting, naming it", async () => {
    const cwd = workdir();
    writeFileSync(join(cwd, "config.yaml"), "worker:\n  process_timeout: soon\n");
    const worker = startProcess(entry, { cwd, env: { PORT: "0", GRPC_PORT: "0" } });
    expect((await worker.exit()).code).toBe(1);
    expect(worker.output()).toContain("worker.process_timeout: must be a duration such as 500ms");
    expect(worker.output()).toContain('value was "soon"');
  });

  it("refuses to start when Redis cannot be reached, naming the URL without its password", async () => {
    const worker = startProcess(entry, {
      cwd: workdir(),
      env: { PORT: "0", GRPC_PORT: "0", QUEUE_DRIVER: "redis", REDIS_URL: "redis://:hunter2@127.0.0.1:1/0" },
    });
    expect((await worker.exit()).code).toBe(1);
    expect(worker.output()).toContain("redis://:***@127.0.0.1:1/0");
    expect(worker.output()).not.toContain("hunter2");
  });

  it("refuses to start when PostgreSQL cannot be reached, naming the URL without its password", async () => {
    const worker = startProcess(entry, {
      cwd: workdir(),
      env: {
        PORT: "0",
        GRPC_PORT: "0",
        DATABASE_URL: "postgres://app:topsecret@127.0.0.1:1/mail",
        DB_CONNECT_TIMEOUT: "1s",
      },
    });
    expect((await worker.exit()).code).toBe(1);
    expect(worker.output()).toContain("postgres://app:***@127.0.0.1:1/mail");
    expect(worker.output()).not.toContain("topsecret");
  });
});
