import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { forgive, hasChromium, openPage, type PageWatch, screenshot } from "../browser.ts";
import { requires } from "../outside-tools.ts";
import { until } from "../until.ts";
import {
  ADMIN_KEY,
  type ConsoleRig,
  consoleFetch,
  SEND_KEY,
  signIn,
  startConsoleRig,
} from "./console-service.ts";

const chromium = requires("Debian's chromium (apt-get install chromium)", hasChromium());

/**
 * The console as an operator uses it: Chromium driving the built pages of a service running in its
 * own process, which delivers to an SMTP server. Each test leaves a screenshot of what it saw in
 * .tmp/console-screenshots/, and fails on any console error, uncaught exception or dialog.
 */
describe.skipIf(chromium.skip)(`operator console in a browser${chromium.label}`, () => {
  let rig: ConsoleRig;
  const watches: PageWatch[] = [];
  const open = async (key: string) => {
    const opened = await openPage(rig.browser);
    watches.push(opened.watch);
    await signIn(opened.page, rig.service.base, key);
    return opened;
  };

  beforeAll(async () => {
    rig = await startConsoleRig();
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  afterEach(() => {
    for (const watch of watches.splice(0)) {
      expect(watch.errors, "console errors").toEqual([]);
      expect(watch.dialogs, "dialogs").toEqual([]);
      expect(watch.blocked, "scripts the browser refused").toEqual([]);
    }
  });

  it("finds a tracked job the test sent and shows its preview and timeline", async () => {
    const recipient = "ada.console@example.com";
    const id = await rig.send({
      type: "welcome_email",
      recipient_email: recipient,
      subject: "Your receipt",
      html: "<p>Hello {{name}}</p>",
      template_data: { name: "Ada" },
      tracked: true,
      tags: ["console-test"],
    });
    await rig.delivered(recipient);
    const { page, context } = await open(ADMIN_KEY);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Jobs" }).click();
    await page.getByLabel("Recipient").fill(recipient);
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("link", { name: `Your receipt ${id}` }).click();
    await page.getByRole("heading", { name: `Job ${id}` }).waitFor();
    // The address never went into a URL: searches travel in the request body.
    expect(page.url()).not.toContain("example.com");
    await page.getByRole("heading", { name: "Timeline" }).waitFor();
    await until(
      async () => {
        await page.reload();
        await page.getByRole("heading", { name: "Timeline" }).waitFor();
        return (await page.getByText("sent", { exact: true }).count()) > 0;
      },
      15_000,
      "the job's sent event",
    );
    const preview = page.frameLocator('iframe[title="Job message: HTML version"]');
    await preview.getByText("Hello Ada").waitFor();
    await screenshot(page, "job");
    await context.close();
  });

  it("replays a dead letter after a dry run, and the SMTP server then gets it", async () => {
    // An operator's story: a template was switched off while jobs used it, so they were dead-lettered;
    // the template is switched back on and the dead letters replayed.
    const { page, context } = await open(ADMIN_KEY);
    const template = (active: boolean) =>
      consoleFetch(page, "PUT", "/admin/api/templates/replay_notice", {
        name: "Replay notice",
        subject: "Dead letter to replay",
        html_template: "<p>Replayed for {{name}}</p>",
        text_template: "",
        variables: [],
        is_active: active,
      });
    expect((await template(true)).status).toBe(200);
    const recipient = "replay.me@example.com";
    await rig.send({
      type: "notice",
      recipient_email: recipient,
      template_id: "replay_notice",
      template_data: { name: "Ada" },
      scheduled_at: new Date(Date.now() + 2_000).toISOString(),
    });
    expect((await template(false)).status).toBe(200);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dead letters" }).click();
    await page.getByRole("heading", { name: "Dead letters", level: 1 }).waitFor();
    await page.getByLabel("Reason contains").fill("replay_notice");
    // The worker dead-letters the job when its time comes; then the page's filter finds it.
    await until(
      async () =>
        (
          await consoleFetch(page, "POST", "/admin/api/dead-letters/search", { reason: "replay_notice" })
        ).text.includes(recipient),
      20_000,
      "the job dead-lettered",
    );
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByRole("button", { name: "Replay", exact: true }).waitFor();
    await page.getByRole("button", { name: "Inspect" }).first().click();
    await page
      .getByText(/replay_notice/)
      .first()
      .waitFor();
    expect(rig.sink.messages.some((m) => m.to.includes(recipient))).toBe(false);
    expect((await template(true)).status).toBe(200);
    await page.getByRole("button", { name: "Replay", exact: true }).first().click();
    const dialog = page.getByRole("dialog", { name: "Replay dead letters?" });
    await dialog.waitFor();
    await screenshot(page, "dead-letters");
    await dialog.getByRole("button", { name: "Confirm" }).click();
    await page
      .getByRole("status")
      .getByText(/^Replayed 1 dead letter/)
      .waitFor();
    await rig.delivered(recipient);
    await context.close();
  });

  it("edits a template with a live preview and saves it; a template that cannot render is refused", async () => {
    const { page, context, watch } = await open(ADMIN_KEY);
    await page.goto(`${rig.service.base}/admin/templates/-/new`);
    await page.getByRole("heading", { name: "New template" }).waitFor();
    await page.getByLabel("Id").fill("console_receipt");
    await page.getByLabel("Name").fill("Receipt");
    await page.getByLabel("Subject").fill("Receipt for {{.customer}}");
    await page.getByLabel("HTML").fill("<p>Thanks, {{.customer}}!</p>");
    await page.getByLabel("Required variables").fill("customer");
    await page.getByLabel("Sample data (JSON)").fill('{"customer": "Grace"}');
    const preview = page.frameLocator('iframe[title="Template preview: HTML version"]');
    await preview.getByText("Thanks, Grace!").waitFor();
    await page.getByLabel("Sample data (JSON)").fill('{"customer": "Linus"}');
    await preview.getByText("Thanks, Linus!").waitFor();
    await page.getByText("Go syntax, as run").waitFor();

    await page.getByLabel("HTML").fill("<p>{{#if}}</p>");
    await page.getByRole("alert").first().waitFor();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText(/^The template was not saved/).waitFor();
    forgive(watch, /status of 400/);

    await page.getByLabel("HTML").fill("<p>Thanks, {{.customer}}!</p>");
    await preview.getByText("Thanks, Linus!").waitFor();
    await screenshot(page, "template-editor");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").getByText(/saved/i).waitFor();
    const saved = await rig.api("/v1/emails", {
      body: {
        type: "receipt",
        recipient_email: "grace.receipt@example.com",
        template_id: "console_receipt",
        template_data: { customer: "Grace" },
      },
    });
    expect(saved.status).toBe(202);
    await rig.delivered("grace.receipt@example.com");

    // "New template" under an id that is taken is refused; the stored template stays as it was.
    await page.goto(`${rig.service.base}/admin/templates/-/new`);
    await page.getByLabel("Id").fill("console_receipt");
    await page.getByLabel("Name").fill("Not the receipt");
    await page.getByLabel("HTML").fill("<p>Something else</p>");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText(/^The template was not saved: template "console_receipt" already exists/).waitFor();
    forgive(watch, /status of 409/);
    await page.goto(`${rig.service.base}/admin/templates/console_receipt`);
    await expect.poll(() => page.getByLabel("Name").inputValue()).toBe("Receipt");

    // A template may be called "new": its page is its own, not the editor for a new template.
    await page.goto(`${rig.service.base}/admin/templates/-/new`);
    await page.getByLabel("Id").fill("new");
    await page.getByLabel("Name").fill("Called new");
    await page.getByLabel("HTML").fill("<p>New arrivals</p>");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: "Template new", exact: true }).waitFor();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Templates" }).click();
    await page.getByRole("link", { name: "new", exact: true }).click();
    await page.getByRole("heading", { name: "Template new", exact: true }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/admin/templates/new");
    await expect.poll(() => page.getByLabel("Name").inputValue()).toBe("Called new");
    await context.close();
  });

  it("adds a suppression and removes it again", async () => {
    const { page, context } = await open(ADMIN_KEY);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Suppressions" }).click();
    await page.getByRole("heading", { name: "Suppressions", level: 1 }).waitFor();
    await page.getByLabel("Email", { exact: true }).fill("complainer@example.com");
    await page.getByLabel("Reason").selectOption("complaint");
    await page.getByLabel("Details").fill("asked by phone");
    await page.getByRole("button", { name: "Add suppression" }).click();
    const row = page.getByRole("row", { name: /complainer@example\.com/ });
    await row.waitFor();
    await row.getByRole("cell", { name: "console", exact: true }).waitFor();
    await screenshot(page, "suppressions");
    await row.getByRole("button", { name: "Remove" }).click();
    await page
      .getByRole("dialog", { name: "Remove this suppression?" })
      .getByRole("button", { name: "Confirm" })
      .click();
    await row.waitFor({ state: "detached" });
    const listed = await rig.api("/v1/emails", {
      body: { type: "check", recipient_email: "complainer@example.com", subject: "back", text: "x" },
    });
    expect(listed.status).toBe(202);
    await rig.delivered("complainer@example.com");
    await context.close();
  });

  it("shows campaigns with their progress and lets an admin pause one", async () => {
    const created = await rig.api("/v1/campaigns", {
      key: ADMIN_KEY,
      body: {
        name: "Console spring sale",
        type: "newsletter",
        subject: "Spring",
        html: "<p>Sale</p>",
        recipients: [{ email: "reader1@example.com" }, { email: "reader2@example.com" }],
        scheduled_at: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    expect(created.status).toBe(201);
    const campaign = (await created.json()) as { id: string };
    expect(
      (await rig.api(`/v1/campaigns/${campaign.id}/start`, { key: ADMIN_KEY, method: "POST" })).status,
    ).toBe(200);
    const { page, context } = await open(ADMIN_KEY);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Campaigns" }).click();
    await page.getByRole("progressbar", { name: "Progress of Console spring sale" }).waitFor();
    const row = page.getByRole("row", { name: /Console spring sale/ });
    await row.getByRole("button", { name: "Pause" }).click();
    await row.getByText("paused").waitFor();
    await screenshot(page, "campaigns");
    await context.close();
  });

  it("shows an admin the overview: queue, the fleet's throughput of the last hour, providers and health", async () => {
    // Run after the tests above sent their emails: the throughput history has them once a replica
    // has added its counts (every 10 s).
    expect(rig.sink.messages.length, "emails sent by the tests above").toBeGreaterThan(0);
    const { page, context } = await open(ADMIN_KEY);
    await until(
      async () => {
        const overview = JSON.parse((await consoleFetch(page, "GET", "/admin/api/overview")).text) as {
          throughput: { sent: number }[];
        };
        return overview.throughput.some((minute) => minute.sent > 0);
      },
      20_000,
      "the sent emails in the throughput history",
    );
    await page.reload();
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    await page.getByText("Signed in as ops").waitFor();
    for (const heading of ["Tracked jobs by status", "Throughput", "Providers", "Service health"])
      await page.getByRole("heading", { name: heading }).waitFor();
    await page.getByRole("img", { name: /^Last hour: [1-9]\d* sent, \d+ failed$/ }).waitFor();
    await page.getByRole("cell", { name: "smtp" }).first().waitFor();
    // The key went to the server once and is nowhere the page's script can read it.
    expect(await page.evaluate("document.cookie")).toBe("");
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }))).not.toContain(
      ADMIN_KEY,
    );
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: "ew_console", httpOnly: true, sameSite: "Strict", path: "/admin" });
    await screenshot(page, "overview");
    await context.close();
  });

  it("gives a send-only key read-only pages, and the server refuses it every change", async () => {
    const id = await rig.send({
      type: "welcome_email",
      recipient_email: "read.only@example.com",
      subject: "Later",
      text: "x",
      tracked: true,
      scheduled_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const { page, context, watch } = await open(SEND_KEY);
    const nav = page.getByRole("navigation", { name: "Main" });
    for (const hidden of ["Dead letters", "Suppressions", "Campaigns"])
      expect(await nav.getByRole("link", { name: hidden }).count()).toBe(0);
    await page.goto(`${rig.service.base}/admin/jobs/${id}`);
    await page.getByRole("heading", { name: `Job ${id}` }).waitFor();
    expect(await page.getByRole("button", { name: "Cancel" }).count()).toBe(0);
    await screenshot(page, "job-read-only");

    const refused = await page.evaluate(async (jobId) => {
      const session = (await (await fetch("/admin/api/session")).json()) as { csrf_token: string };
      const headers = { "x-csrf-token": session.csrf_token, "content-type": "application/json" };
      const cancel = await fetch(`/admin/api/jobs/${jobId}/cancel`, { method: "POST", headers });
      const letters = await fetch("/admin/api/dead-letters/search", { method: "POST", headers, body: "{}" });
      const suppress = await fetch("/admin/api/suppressions", {
        method: "POST",
        headers,
        body: JSON.stringify({ email: "x@example.com", reason: "manual" }),
      });
      return [cancel.status, letters.status, suppress.status];
    }, id);
    expect(refused).toEqual([403, 403, 403]);
    forgive(watch, /status of 403/);
    const view = (await (await rig.api(`/v1/emails/${id}`)).json()) as { job: { status: string } };
    expect(view.job.status).toBe("pending");
    await context.close();
  });

  it("refuses a change whose CSRF token is missing or wrong, even with the session cookie", async () => {
    const { page, context, watch } = await open(ADMIN_KEY);
    const statuses = await page.evaluate(async () => {
      const body = JSON.stringify({ email: "csrf@example.com", reason: "manual" });
      const post = (headers: Record<string, string>) =>
        fetch("/admin/api/suppressions", {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body,
        });
      return [(await post({})).status, (await post({ "x-csrf-token": "forged" })).status];
    });
    expect(statuses).toEqual([403, 403]);
    forgive(watch, /status of 403/);
    await context.close();
  });

  it("ends the session on sign-out", async () => {
    const { page, context, watch } = await open(ADMIN_KEY);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate(async () => (await fetch("/admin/api/overview")).status)).toBe(401);
    forgive(watch, /status of 401/);
    await screenshot(page, "sign-in");
    await context.close();
  });
});
