import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmailctlTestService, startEmailctlTestService } from "../../test/emailctl.ts";

/** emailctl's campaign commands against the real service on its embedded default. */
describe("emailctl campaigns", () => {
  let cli: EmailctlTestService;

  beforeAll(async () => {
    cli = await startEmailctlTestService("ew-cli-campaigns-");
  });
  afterAll(async () => {
    await cli?.close();
  });

  const emailctl = (...args: string[]) => cli.emailctl(...args);

  it("creates a campaign from a CSV with progress, reports bad rows by line, starts it and watches it to the end", async () => {
    const file = join(cli.cwd, "readers.csv");
    const rows = Array.from({ length: 300 }, (_, i) => `reader${i}@example.org,Reader ${i},Oslo`);
    writeFileSync(
      file,
      [
        "email,name,city",
        ...rows.slice(0, 100),
        "not-an-address,Broken,Oslo",
        ...rows.slice(100),
        "READER7@example.org,Again,Oslo",
      ].join("\n"),
    );
    const created = await emailctl(
      "campaigns",
      "create",
      "--name",
      "Autumn news",
      "--type",
      "newsletter",
      "--subject",
      "News for {{.name}}",
      "--text",
      "Hello {{.name}} in {{.city}}",
      "--recipients",
      file,
      "--start",
    );
    expect(created.code, created.stderr).toBe(0);
    const id = /created campaign ([0-9a-f-]{36})/.exec(created.stdout)?.[1] as string;
    expect(created.stdout).toContain("added 300 recipients (1 duplicates merged, 0 suppressed, 1 invalid)");
    expect(created.stderr).toContain("line 102: email: must be a valid email address");
    expect(created.stderr).toMatch(/\[#+\] 100% uploaded/);

    const watched = await emailctl("campaigns", "watch", id, "--interval", "0.2");
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toMatch(/completed: 300\/300 sent/);

    const shown = JSON.parse((await emailctl("--json", "campaigns", "get", id)).stdout);
    expect(shown).toMatchObject({
      status: "completed",
      priority: "low",
      counts: { total: 300, sent: 300, pending: 0, queued: 0, duplicates: 1, invalid: 1 },
    });
    const listed = await emailctl("campaigns", "list", "--status", "completed");
    expect(listed.stdout).toMatch(
      new RegExp(`${id}\\s+Autumn news\\s+newsletter\\s+completed\\s+300\\s+300`),
    );
  });

  it("creates an untracked campaign, says so, and watches it send to everyone on the embedded default", async () => {
    const file = join(cli.cwd, "untracked.jsonl");
    writeFileSync(
      file,
      Array.from({ length: 50 }, (_, i) =>
        JSON.stringify({ email: `fan${i}@example.org`, name: `Fan ${i}` }),
      ).join("\n"),
    );
    const created = await emailctl(
      "campaigns",
      "create",
      "--name",
      "Quick note",
      "--type",
      "newsletter",
      "--subject",
      "Hi {{.name}}",
      "--text",
      "Hello {{.name}}",
      "--untracked",
      "--recipients",
      file,
      "--start",
    );
    expect(created.code, created.stderr).toBe(0);
    const id = /created campaign ([0-9a-f-]{36})/.exec(created.stdout)?.[1] as string;
    const watched = await emailctl("campaigns", "watch", id, "--interval", "0.2");
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toMatch(/completed: 50\/50 sent/);
    const shown = await emailctl("campaigns", "get", id);
    expect(shown.stdout).toMatch(/completed, priority low, untracked/);
    expect(JSON.parse((await emailctl("--json", "campaigns", "get", id)).stdout)).toMatchObject({
      tracked: false,
      counts: { total: 50, sent: 50, queued: 0 },
    });
  });

  it("pauses, resumes and cancels a campaign, and refuses what its state does not allow", async () => {
    const created = await emailctl(
      "--json",
      "campaigns",
      "create",
      "--name",
      "Later",
      "--type",
      "newsletter",
      "--template",
      "welcome_template",
      "--data",
      '{"user_name":"Reader"}',
      "--schedule",
      new Date(Date.now() + 3_600_000).toISOString(),
    );
    expect(created.code, created.stderr).toBe(0);
    const id = JSON.parse(created.stdout).campaign.id as string;
    expect((await emailctl("campaigns", "start", id)).stdout).toContain(`campaign ${id} is scheduled`);
    expect((await emailctl("campaigns", "pause", id)).stdout).toContain("is paused");
    expect((await emailctl("campaigns", "cancel", id)).stdout).toContain("is cancelled");
    const draft = JSON.parse(
      (
        await emailctl(
          "--json",
          "campaigns",
          "create",
          "--name",
          "Weekly",
          "--type",
          "newsletter",
          "--template",
          "welcome_template",
        )
      ).stdout,
    ).campaign.id as string;
    const scheduled = await emailctl(
      "campaigns",
      "schedule",
      draft,
      "--cron",
      "0 9 * * MON",
      "--timezone",
      "Europe/Oslo",
    );
    expect(scheduled.code, scheduled.stderr).toBe(0);
    const scheduleId =
      /schedule ([0-9a-f-]{36}): 0 9 \* \* MON \(Europe\/Oslo\), next run \S+ 08:00:00Z/.exec(
        scheduled.stdout,
      )?.[1];
    expect(scheduleId, scheduled.stdout).toBeDefined();
    expect((await emailctl("campaigns", "schedules")).stdout).toContain(scheduleId);
    expect((await emailctl("campaigns", "unschedule", scheduleId as string)).stdout).toContain("deleted");
    const refused = await emailctl("campaigns", "resume", id);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("cancelled: it cannot resume");
    const missing = await emailctl("campaigns", "get", "0b7c2a36-5d8c-4b0e-9b43-0f6a7e9d2c11");
    expect(missing.code).toBe(3);
  });
});
