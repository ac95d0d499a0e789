import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServiceProcess, startServiceProcess } from "../../test/service-process.ts";
import { type SmtpSink, startSmtpSink } from "../../test/smtp-sink.ts";
import { until } from "../../test/until.ts";

const cliEntry = fileURLToPath(new URL("../emailctl/main.ts", import.meta.url));
const run = promisify(execFile);

/**
 * A provider whose settings are wrong (here: the SMTP password) is found at start-up, before any
 * email needs it: /health names it and why, emailctl checks again on demand, and the other
 * providers keep serving.
 */
describe("email-worker checking its providers' settings", () => {
  let sink: SmtpSink;
  let service: ServiceProcess;
  let base: string;

  beforeAll(async () => {
    sink = await startSmtpSink({ users: { mailer: "right-password" } });
    service = await startServiceProcess({
      SMTP_HOST: "127.0.0.1",
      SMTP_PORT: String(sink.port),
      SMTP_USE_TLS: "false",
      SMTP_USERNAME: "mailer",
      SMTP_PASSWORD: "wrong-password",
      SMTP_FROM_EMAIL: "noreply@shop.example",
    });
    base = service.base;
  });

  afterAll(async () => {
    await service?.stop();
    await sink?.close();
  });

  it("reports the failing provider in /health with its reason, degraded but ready, the password never shown", async () => {
    let health: { status: string; provider_checks: Record<string, string> } | undefined;
    await until(
      async () => {
        health = (await (await fetch(`${base}/health`)).json()) as typeof health;
        return !Object.values(health?.provider_checks ?? {}).includes("pending");
      },
      20_000,
      "the start-up checks to end",
    );
    expect(health?.status).toBe("degraded");
    expect(health?.provider_checks.outbox).toBe("ok");
    expect(health?.provider_checks.smtp).toMatch(/^failed: .*535/);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(service.output()).toMatch(/"provider":"smtp".*"msg":"provider check failed/);
    expect(service.output()).not.toContain("wrong-password");
  });

  it("checks again on `emailctl providers verify`, exiting 1 and naming the provider", async () => {
    const result = await run(process.execPath, [cliEntry, "providers", "verify", "--json"], {
      env: { PATH: process.env.PATH ?? "", EMAILCTL_ADDRESS: service.grpcAddress },
    }).then(
      (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("provider check failed: smtp");
    const checks = JSON.parse(result.stdout) as { provider: string; state: string; code: string }[];
    expect(checks.find((check) => check.provider === "outbox")?.state).toBe("ok");
    expect(checks.find((check) => check.provider === "smtp")).toMatchObject({
      state: "failed",
      code: "smtp_auth_535",
    });
  });
});
