import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, watchPage } from "../browser.ts";
import { requires } from "../outside-tools.ts";
import { ADMIN_KEY, type ConsoleRig, startConsoleRig } from "./console-service.ts";

const chromium = requires("Debian's chromium (apt-get install chromium)", hasChromium());
const axeScript = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's WCAG 2 A and AA rules on the page as it is now; the serious and critical findings. */
async function accessibilityFaults(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: axeScript });
  const result = (await page.evaluate(
    `axe.run(document, { runOnly: ["wcag2a", "wcag2aa"] }).then((r) => ({ violations: r.violations, passes: r.passes.length }))`,
  )) as { violations: AxeViolation[]; passes: number };
  // A page axe found nothing to check on would pass vacuously.
  expect(result.passes).toBeGreaterThan(5);
  const { violations } = result;
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/**
 * The console for someone using a keyboard or a screen reader: every page passes axe-core's WCAG 2
 * A/AA rules without a serious finding, and signing in, moving between pages and answering a
 * confirmation work from the keyboard alone.
 */
describe.skipIf(chromium.skip)(`console accessibility${chromium.label}`, () => {
  let rig: ConsoleRig;
  let jobId: string;

  beforeAll(async () => {
    rig = await startConsoleRig();
    jobId = await rig.send({
      type: "receipt",
      recipient_email: "a11y@example.com",
      subject: "Accessible receipt",
      html: "<p>Thanks</p>",
      tracked: true,
    });
    await rig.delivered("a11y@example.com");
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  it("signs in, moves between pages and answers a dialog with the keyboard alone", async () => {
    const context = await rig.browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    const watch = watchPage(page);
    await page.goto(`${rig.service.base}/admin/`);
    // The key field has the focus from the start: typing goes there.
    const keyField = page.getByLabel("API key");
    await expect
      .poll(() => keyField.evaluate((el) => el === el.ownerDocument.activeElement), { timeout: 10_000 })
      .toBe(true);
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press("Enter");
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.waitFor();

    await nav.getByRole("link", { name: "Suppressions" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Suppressions", level: 1 }).waitFor();
    await page.getByLabel("Email", { exact: true }).focus();
    await page.keyboard.type("keyboard@example.com");
    await page.keyboard.press("Enter");
    const row = page.getByRole("row", { name: /keyboard@example\.com/ });
    await row.waitFor();
    await row.getByRole("button", { name: "Remove" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Remove this suppression?" });
    await dialog.waitFor();
    // Focus is in the dialog, and Escape answers no.
    expect(await dialog.evaluate((el) => el.contains(el.ownerDocument.activeElement))).toBe(true);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await row.waitFor();
    expect(watch.errors).toEqual([]);
    await context.close();
  });

  it("passes axe-core's WCAG 2 A/AA rules on every page", async () => {
    // axe is injected as a script of the test's own, which the console's policy would refuse.
    const context = await rig.browser.newContext({ viewport: { width: 1366, height: 768 }, bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${rig.service.base}/admin/`);
    await page.getByLabel("API key").waitFor();
    const faults: Record<string, string[]> = { "sign-in": await accessibilityFaults(page) };
    await page.getByLabel("API key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    const pages: [string, string | RegExp][] = [
      ["/admin/", "Overview"],
      ["/admin/jobs", "Jobs"],
      [`/admin/jobs/${jobId}`, `Job ${jobId}`],
      ["/admin/dead-letters", "Dead letters"],
      ["/admin/templates", "Templates"],
      ["/admin/templates/welcome_template", "Template welcome_template"],
      ["/admin/templates/-/new", "New template"],
      ["/admin/suppressions", "Suppressions"],
      ["/admin/campaigns", "Campaigns"],
    ];
    for (const [path, heading] of pages) {
      await page.goto(`${rig.service.base}${path}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState("networkidle");
      faults[path] = await accessibilityFaults(page);
    }
    expect(Object.fromEntries(Object.entries(faults).filter(([, found]) => found.length > 0))).toEqual({});
    await context.close();
  });
});
