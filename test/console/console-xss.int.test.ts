import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, openPage, screenshot } from "../browser.ts";
import { requires } from "../outside-tools.ts";
import { until } from "../until.ts";
import { ADMIN_KEY, type ConsoleRig, consoleFetch, signIn, startConsoleRig } from "./console-service.ts";

const chromium = requires("Debian's chromium (apt-get install chromium)", hasChromium());

/** Markup that runs script wherever it is put into a page as HTML instead of text. */
const HOSTILE = `<script>alert("script")</script>"><img src=x onerror=alert("img")>`;

/** What a page of the console holds besides its own bundle: an injected element shows up here. */
async function injected(page: Page): Promise<{ scripts: number; images: number; handlers: number }> {
  return page.evaluate(`({
    scripts: document.querySelectorAll("script:not([src^='/admin/assets/'])").length,
    images: document.querySelectorAll("img").length,
    handlers: document.querySelectorAll("[onerror], [onload], [onclick]").length,
  })`);
}

/**
 * Hostile strings in every place the console shows what API callers wrote: a job's subject, name,
 * body and metadata, a template's name and source, a dead letter's payload, a suppression's details
 * and a campaign's name. Each page must show them as text: no dialog, no element made from them,
 * and a message's HTML only inside the preview's empty sandbox.
 */
describe.skipIf(chromium.skip)(`console pages render hostile input inert${chromium.label}`, () => {
  let rig: ConsoleRig;
  let jobId: string;

  beforeAll(async () => {
    rig = await startConsoleRig();
    jobId = await rig.send({
      type: "receipt",
      recipient_email: "xss.target@example.com",
      recipient_name: HOSTILE,
      subject: `Order ${HOSTILE}`,
      html: `<p>Hello {{name}}</p><script>alert("body")</script><img src=x onerror=alert("body-img")>`,
      template_data: { name: HOSTILE },
      metadata: { note: HOSTILE },
      tracked: true,
    });
    // Refused by the relay (550): a dead letter whose payload holds the hostile subject.
    await rig.send({
      type: "receipt",
      recipient_email: "reject550-xss@example.com",
      subject: HOSTILE,
      text: "x",
    });
    const campaign = await rig.api("/v1/campaigns", {
      key: ADMIN_KEY,
      body: { name: HOSTILE, type: "newsletter", subject: HOSTILE, html: "<p>x</p>" },
    });
    expect(campaign.status).toBe(201);
    await rig.delivered("xss.target@example.com");
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  it("shows every page with the hostile strings as text, and runs none of them", async () => {
    const { page, context, watch } = await openPage(rig.browser);
    await signIn(page, rig.service.base, ADMIN_KEY);
    const change = async (method: string, path: string, body: unknown) =>
      (await consoleFetch(page, method, path, body)).status;
    expect(
      await change("PUT", "/admin/api/templates/xss_template", {
        name: HOSTILE,
        subject: `Hi ${HOSTILE}`,
        html_template: `<p>{{name}}</p><script>alert("template")</script>`,
        text_template: "",
        variables: [],
        is_active: true,
      }),
    ).toBe(200);
    expect(
      await change("POST", "/admin/api/suppressions", {
        email: "xss.s@example.com",
        reason: "manual",
        details: HOSTILE,
      }),
    ).toBe(200);

    const visit = async (path: string, shows: string | RegExp, name: string) => {
      await page.goto(`${rig.service.base}${path}`);
      await page.getByText(shows).first().waitFor();
      expect(await injected(page), path).toEqual({ scripts: 0, images: 0, handlers: 0 });
      await screenshot(page, `xss-${name}`);
    };

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Jobs" }).click();
    await page.getByText(`Order ${HOSTILE}`).first().waitFor();
    expect(await injected(page)).toEqual({ scripts: 0, images: 0, handlers: 0 });

    await visit(`/admin/jobs/${jobId}`, `Order ${HOSTILE}`, "job");
    const frame = page.locator('iframe[title="Job message: HTML version"]');
    expect(await frame.getAttribute("sandbox")).toBe("");
    // The variable was escaped into the message; the author's own <script> stayed inside the sandbox.
    await page
      .frameLocator('iframe[title="Job message: HTML version"]')
      .getByText(`Hello ${HOSTILE}`)
      .waitFor();

    await until(
      async () =>
        (await consoleFetch(page, "POST", "/admin/api/dead-letters/search", {})).text.includes(
          "reject550-xss",
        ),
      20_000,
      "the refused job's dead letter",
    );
    await visit("/admin/dead-letters", /reject550-xss|550/, "dead-letters");
    await page.getByRole("button", { name: "Inspect" }).first().click();
    await page
      .getByText(/reject550-xss@example\.com/)
      .first()
      .waitFor();
    expect(await injected(page)).toEqual({ scripts: 0, images: 0, handlers: 0 });

    await visit("/admin/templates", HOSTILE, "templates");
    await visit("/admin/templates/xss_template", "Preview", "template-editor");
    await page.getByLabel("Sample data (JSON)").fill(JSON.stringify({ name: HOSTILE }));
    await page.frameLocator('iframe[title="Template preview: HTML version"]').getByText(HOSTILE).waitFor();
    expect(await injected(page)).toEqual({ scripts: 0, images: 0, handlers: 0 });

    await visit("/admin/suppressions", HOSTILE, "suppressions");
    await visit("/admin/campaigns", HOSTILE, "campaigns");

    expect(watch.dialogs, "dialogs: injected script ran").toEqual([]);
    expect(watch.errors, "console errors").toEqual([]);
    // What the browser did refuse was script inside the sandboxed previews, nowhere else.
    for (const refusal of watch.blocked) expect(refusal).toMatch(/about:srcdoc/);
    await context.close();
  });
});
