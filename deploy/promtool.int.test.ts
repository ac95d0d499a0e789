import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { hasCommand, requires } from "../test/outside-tools.ts";
import { dashboardExpressions } from "./grafana/dashboard.ts";

const run = promisify(execFile);
const root = new URL("../", import.meta.url);

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run("promtool", args, { cwd: new URL("deploy/prometheus/", root) });
    return stdout + stderr;
  } catch (error) {
    const e = error as { code?: string; stdout?: string; stderr?: string };
    if (e.code === "ENOENT") throw new Error("promtool is missing: npm run setup:test installs it");
    throw new Error(`promtool ${args.join(" ")} failed:\n${e.stdout}${e.stderr}`);
  }
}

/** Runs `check` on a file written into a fresh directory, removed afterwards. */
async function checkWritten(check: string, file: string, content: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "ew-promtool-"));
  try {
    writeFileSync(join(dir, file), content);
    return await promtool("check", check, join(dir, file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const promtoolInstalled = requires("promtool", hasCommand("promtool"));

describe.skipIf(promtoolInstalled.skip)(
  `promtool (Prometheus's own checker)${promtoolInstalled.label}`,
  () => {
    it("accepts the alert rules and passes their unit tests", async () => {
      expect(await promtool("check", "rules", "alerts.yaml")).toContain("SUCCESS: 8 rules found");
      expect(await promtool("test", "rules", "alerts.test.yaml")).toContain("SUCCESS");
    });

    it("accepts every Grafana panel's PromQL", async () => {
      const rules = dashboardExpressions().map(
        (expr, i) => `      - record: dashboard:panel_${i}\n        expr: ${JSON.stringify(expr)}`,
      );
      const yaml = `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`;
      expect(await checkWritten("rules", "dashboard-rules.yaml", yaml)).toContain("SUCCESS");
    });

    it("accepts the docker-compose stack's Prometheus config with its alert rules", async () => {
      const local = readFileSync(new URL("deploy/compose/prometheus.yml", root), "utf8").replace(
        "/etc/prometheus/alerts.yaml",
        new URL("deploy/prometheus/alerts.yaml", root).pathname,
      );
      expect(await checkWritten("config", "prometheus.yml", local)).toContain("SUCCESS");
    });
  },
);
