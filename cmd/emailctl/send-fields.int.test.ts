import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmailctlTestService, eventually, startEmailctlTestService } from "../../test/emailctl.ts";

/** emailctl send's --cc, --bcc, --tag and --sandbox against a running service on its embedded default. */
describe("emailctl send with Cc, Bcc, tags and sandbox", () => {
  let cli: EmailctlTestService;
  let cwd: string;

  beforeAll(async () => {
    cli = await startEmailctlTestService("ew-cli-fields-");
    cwd = cli.cwd;
  });

  afterAll(async () => {
    await cli?.close();
  });

  const emailctl = (...args: string[]) => cli.emailctl(...args);

  const jobJson = async (id: string) => JSON.parse((await emailctl("jobs", "get", id, "--json")).stdout);

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
