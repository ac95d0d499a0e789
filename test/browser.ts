import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium (apt-get install chromium), or CHROMIUM_PATH: playwright never downloads one. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function hasChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Where the console's screenshots go: CI keeps .tmp/ as its artifacts. */
export const SCREENSHOT_DIR = fileURLToPath(new URL("../.tmp/console-screenshots/", import.meta.url));

/**
 * Headless Chromium as the tests run it: as root it needs --no-sandbox, and the rest keep it from
 * reaching for the network, a GPU or /dev/shm (small in containers).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/**
 * What a page said that a user would not want to see: console errors, uncaught exceptions and any
 * dialog (alert, confirm, prompt: the console uses none, so one is injected script running). The
 * browser's own reports of script it refused to run in a sandboxed preview are kept apart: they are
 * the proof that hostile HTML stayed inert, not faults.
 */
export interface PageWatch {
  errors: string[];
  dialogs: string[];
  /** "Blocked script execution in 'about:srcdoc'…" and the like. */
  blocked: string[];
}

const BLOCKED_BY_SANDBOX =
  /Blocked script execution in 'about:srcdoc'|Refused to execute inline|Refused to load/;

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { errors: [], dialogs: [], blocked: [] };
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    (BLOCKED_BY_SANDBOX.test(text) ? watch.blocked : watch.errors).push(text);
  });
  page.on("pageerror", (error) => watch.errors.push(`uncaught: ${error.message}`));
  page.on("dialog", (dialog) => {
    watch.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => {});
  });
  return watch;
}

/** A fresh context (its own cookies) at a laptop's screen size, with a page and its watch. */
export async function openPage(
  browser: Browser,
): Promise<{ context: BrowserContext; page: Page; watch: PageWatch }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  return { context, page, watch: watchPage(page) };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Drops the errors a test caused on purpose (a refused request it made to prove the refusal). */
export function forgive(watch: PageWatch, expected: RegExp): void {
  const kept = watch.errors.filter((error) => !expected.test(error));
  watch.errors.splice(0, watch.errors.length, ...kept);
}
