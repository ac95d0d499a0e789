import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningProcess, startProcess } from "../../test/process.ts";

const serviceEntry = fileURLToPath(new URL("../email-worker/main.ts", import.meta.url));
const cliEntry = fileURLToPath(new URL("./main.ts", import.meta.url));

/** emailctl send's --cc, --bcc, --tag and --sandbox against a running service on its embedded default. */
describe("emailctl send with Cc, Bcc, tags and sandbox", () => {
  let cwd: string;
  let service: RunningProcess;
  let address: string;

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), "ew-cli-fields-"));
    service = startProcess(serviceEntry, { cwd, env: { PORT: "0", GRPC_PORT: "0" } });
    await service.waitFor('"msg":"email-worker started"');
    address = `127.0.0.1:${/"grpc_port":(\d+)/.exec(service.output())?.[1]}`;
  });

  afterAll(async () => {
    service?.child.kill("SIGTERM");
    await service?.exit();
    rmSync(cwd, { recursive: true, force: true });
  });

  function emailctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [cliEntry, ...args],
        { cwd, env: { PATH: process.env.PATH ?? "", EMAILCTL_ADDRESS: address } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  const jobJson = async (id: string) => JSON.parse((await emailctl("jobs", "get", id, "--json")).stdout);

  async function eventually(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 100 && !(await check()); i++) await sleep(100);
  }

  it("runs a tracked sandbox job to `sandboxed` with nothing written to the outbox, and finds it by tag", async () => {
    const sent = await emailctl(
      "send",
      "--to",
      "ada@example.org",
      "--cc",
      "Bob <bob@example.org>",
      "--cc",
      "carol@example.org",
      "--bcc",
      "audit@example.org",
      "--tag",
      "ci",
      "--tag",
      "smoke:1",
      "--sandbox",
      "--template",
      "welcome_template",
      "--data",
      '{"user_name":"Ada"}',
      "--tracked",
      "--json",
    );
    expect(sent.code).toBe(0);
    const { job_id } = JSON.parse(sent.stdout) as { job_id: string };
    await eventually(async () => (await jobJson(job_id)).status === "sandboxed");
    expect(await jobJson(job_id)).toMatchObject({
      status: "sandboxed",
      sandbox: true,
      tags: ["ci", "smoke:1"],
      cc: ["bob@example.org", "carol@example.org"],
      bcc: ["audit@example.org"],
      provider: "outbox",
      events: [{ status: "sandboxed" }],
    });
    expect(existsSync(join(cwd, "data", "outbox", `${job_id}.eml`))).toBe(false);
    const listed = JSON.parse((await emailctl("jobs", "list", "--tag", "smoke:1", "--json")).stdout) as {
      jobs: { id: string }[];
    };
    expect(listed.jobs.map((j) => j.id)).toEqual([job_id]);
  });

  it("refuses a bad --cc with the field named and the invalid-input exit code", async () => {
    const refused = await emailctl(
      "send",
      "--to",
      "ada@example.org",
      "--subject",
      "x",
      "--text",
      "y",
      "--cc",
      "nope",
    );
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain("cc[0]");
  });
});
