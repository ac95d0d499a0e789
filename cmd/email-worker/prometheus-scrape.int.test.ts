import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { dashboardExpressions } from "../../deploy/grafana/dashboard.ts";
import { hasCommand, requires } from "../../test/outside-tools.ts";
import { type RunningProcess, startProcess } from "../../test/process.ts";

const entry = fileURLToPath(new URL("./main.ts", import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The sum of an instant query's samples, or undefined while Prometheus has none. */
async function queryTotal(prometheusPort: number, expr: string): Promise<number | undefined> {
  const url = `http://127.0.0.1:${prometheusPort}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const response = await fetch(url).catch(() => undefined);
  if (!response?.ok) return undefined;
  const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
  if (body.data.result.length === 0) return undefined;
  return body.data.result.reduce((sum, r) => sum + Number(r.value[1]), 0);
}

const prometheusInstalled = requires("prometheus", hasCommand("prometheus"));

describe.skipIf(prometheusInstalled.skip)(
  `a real Prometheus scraping the service${prometheusInstalled.label}`,
  () => {
    const dirs: string[] = [];
    let prometheus: ChildProcess | undefined;
    let service: RunningProcess | undefined;
    afterEach(async () => {
      if (service) {
        service.child.kill("SIGTERM");
        await service.exit();
      }
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((resolve) => prometheus?.once("exit", resolve));
        prometheus.kill("SIGTERM");
        await exited;
      }
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    });

    it("sees email_jobs_processed_total rise after emails are sent, and the dashboard's metrics exposed", {
      timeout: 90_000,
    }, async () => {
      const cwd = mkdtempSync(join(tmpdir(), "ew-prom-service-"));
      dirs.push(cwd);
      service = startProcess(entry, { cwd, env: { PORT: "0", GRPC_PORT: "0" } });
      await service.waitFor('"msg":"email-worker started"');
      const httpPort = Number(/"http_port":(\d+)/.exec(service.output())?.[1]);

      const dir = mkdtempSync(join(tmpdir(), "ew-prometheus-"));
      dirs.push(dir);
      writeFileSync(
        join(dir, "prometheus.yml"),
        [
          "global: { scrape_interval: 1s, evaluation_interval: 1s }",
          "scrape_configs:",
          "  - job_name: email-worker",
          "    static_configs:",
          `      - targets: ["127.0.0.1:${httpPort}"]`,
          "",
        ].join("\n"),
      );
      const prometheusPort = await freePort();
      prometheus = spawn(
        "prometheus",
        [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${prometheusPort}`,
        ],
        { stdio: "ignore" },
      );

      const expr = 'sum(email_jobs_processed_total{status="sent"})';
      // The first scrapes: the service is up and has sent nothing yet.
      let up: number | undefined;
      for (let i = 0; i < 300 && up !== 1; i++) {
        up = await queryTotal(prometheusPort, 'up{job="email-worker"}');
        if (up !== 1) await sleep(100);
      }
      expect(up).toBe(1);
      const before = (await queryTotal(prometheusPort, expr)) ?? 0;

      for (let i = 0; i < 5; i++) {
        const response = await fetch(`http://127.0.0.1:${httpPort}/v1/emails`, {
          method: "POST",
          body: JSON.stringify({
            type: "welcome_email",
            recipient_email: `p${i}@example.org`,
            template_id: "welcome_template",
            template_data: { user_name: `P${i}` },
          }),
        });
        expect(response.status).toBe(202);
      }
      let after = before;
      for (let i = 0; i < 300 && after < before + 5; i++) {
        after = (await queryTotal(prometheusPort, expr)) ?? before;
        if (after < before + 5) await sleep(100);
      }
      expect(after - before).toBe(5);

      // Every metric the Grafana dashboard queries is in what this running service exposes.
      const exposition = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      // By their TYPE lines: a labelled metric nothing has happened to yet has no samples, but the
      // service exposes it (and the panel shows it once it moves).
      const exposed = new Set(
        [...exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name = "", type]) =>
          type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
        ),
      );
      const used = dashboardExpressions().flatMap(
        (expr) => expr.match(/\b(?:email|queue|process|nodejs)_[a-z0-9_]+\b/g) ?? [],
      );
      expect(used.length).toBeGreaterThan(20);
      expect([...new Set(used)].filter((name) => !exposed.has(name))).toEqual([]);
    });
  },
);
