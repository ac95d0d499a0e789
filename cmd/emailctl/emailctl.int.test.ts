import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmailctlTestService, eventually, startEmailctlTestService } from "../../test/emailctl.ts";

/** The real emailctl against a real service on its embedded default, as a newcomer would use them. */
describe("emailctl against a running email-worker", () => {
  let cli: EmailctlTestService;
  let cwd: string;

  beforeAll(async () => {
    cli = await startEmailctlTestService("ew-cli-");
    cwd = cli.cwd;
  });

  afterAll(async () => {
    await cli?.close();
  });

  const emailctl = (...args: string[]) => cli.emailctl(...args);

  it("sends a tracked email from the sample template and shows it sent", async () => {
    const sent = await emailctl(
      "send",
      "--to",
      "ada@example.org",
      "--template",
      "welcome_template",
      "--data",
      '{"user_name":"Ada"}',
      "--type",
      "welcome_email",
      "--tracked",
      "--json",
    );
    expect(sent.code).toBe(0);
    const { job_id } = JSON.parse(sent.stdout) as { job_id: string };
    await eventually(
      async () => JSON.parse((await emailctl("jobs", "get", job_id, "--json")).stdout).status === "sent",
    );
    const shown = await emailctl("jobs", "get", job_id);
    expect(shown.stdout).toMatch(/status\s+sent/);
    expect(shown.stdout).toMatch(/sent\s+outbox\s+<.+@localhost>/);
    expect(existsSync(join(cwd, "data", "outbox", `${job_id}.eml`))).toBe(true);
  });

  it("reports status as a table, or as JSON for scripts", async () => {
    const human = await emailctl("status");
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/LANE\s+WAITING/);
    const json = await emailctl("--json", "status");
    expect(JSON.parse(json.stdout)).toMatchObject({ driver: "postgres", lanes: { critical: 0 } });
  });

  it("sends a file of jobs with progress and a summary", async () => {
    const file = join(cwd, "jobs.jsonl");
    const lines = Array.from({ length: 150 }, (_, i) =>
      JSON.stringify({
        type: "newsletter",
        recipient_email: `reader${i}@example.org`,
        subject: "News",
        text: "Hello",
      }),
    );
    writeFileSync(file, `${lines.join("\n")}\n`);
    const result = await emailctl("send", "--file", file);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("150 queued, 0 rejected");
    expect(result.stderr).toContain("sent 150/150");
  });

  it("refuses a job whose template is missing at once, and replays a dead letter once its template exists again", async () => {
    const refused = await emailctl("send", "--to", "late@example.org", "--template", "later_template");
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('template "later_template" does not exist');

    const templateFile = join(cwd, "later.json");
    writeFileSync(
      templateFile,
      JSON.stringify({ id: "later_template", name: "Later", subject: "Hi", html_template: "<p>Hi</p>" }),
    );
    const putTemplate = async () =>
      expect((await emailctl("templates", "put", "--file", templateFile)).stdout).toContain(
        "saved template later_template",
      );
    // Accepted while the template exists, then the template goes before the job is due: the worker
    // dead-letters it.
    await putTemplate();
    const due = new Date(Date.now() + 3_000).toISOString();
    const sent = await emailctl(
      "send",
      "--to",
      "late@example.org",
      "--template",
      "later_template",
      "--schedule",
      due,
      "--json",
    );
    expect(sent.code, sent.stderr).toBe(0);
    const { job_id } = JSON.parse(sent.stdout) as { job_id: string };
    expect((await emailctl("templates", "delete", "later_template")).stdout).toContain(
      "deleted template later_template",
    );
    let letters: { id: string; body: string; reason: string }[] = [];
    await eventually(async () => {
      letters = JSON.parse((await emailctl("dlq", "list", "--json")).stdout).dead_letters;
      return letters.some((l) => l.body.includes(job_id));
    });
    const letter = letters.find((l) => l.body.includes(job_id));
    expect(letter?.reason).toContain("later_template");

    await putTemplate();
    expect((await emailctl("templates", "list")).stdout).toContain("later_template");
    expect(
      (await emailctl("templates", "preview", "welcome_template", "--data", '{"user_name":"Bo"}')).stdout,
    ).toContain("subject: Welcome, Bo!");

    const dry = await emailctl("dlq", "replay", letter?.id ?? "", "--dry-run");
    expect(dry.stdout).toContain("would replay 1 dead letter(s)");
    const replay = await emailctl("dlq", "replay", letter?.id ?? "");
    expect(replay.stdout).toContain("replayed 1 dead letter(s)");
    await eventually(async () => existsSync(join(cwd, "data", "outbox", `${job_id}.eml`)));
    expect(existsSync(join(cwd, "data", "outbox", `${job_id}.eml`))).toBe(true);
  });

  it("adds, lists and removes suppressed addresses", async () => {
    expect(
      (await emailctl("suppressions", "add", "Gone@Example.org", "--reason", "hard_bounce")).stdout,
    ).toContain("suppressed gone@example.org (hard_bounce)");
    const listed = JSON.parse((await emailctl("suppressions", "list", "--json")).stdout) as {
      suppressions: { email: string }[];
    };
    expect(listed.suppressions.map((s) => s.email)).toContain("gone@example.org");
    expect((await emailctl("suppressions", "remove", "gone@example.org")).stdout).toContain(
      "may receive email again",
    );
  });

  it("uses exit codes scripts can rely on, with one readable error line", async () => {
    const invalid = await emailctl("send", "--to", "not-an-address", "--subject", "x", "--text", "y");
    expect(invalid.code).toBe(4);
    expect(invalid.stderr.trim().split("\n")).toHaveLength(1);
    expect(invalid.stderr).toContain("recipient_email");
    expect((await emailctl("jobs", "get", "00000000-0000-4000-8000-000000000000")).code).toBe(3);
    expect((await emailctl("frobnicate")).code).toBe(2);
    const down = await emailctl("--address", "127.0.0.1:1", "--timeout", "2s", "status");
    expect(down.code).toBe(5);
  });
});
