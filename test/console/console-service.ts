import { createHash } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { expect } from "vitest";
import { launchChromium } from "../browser.ts";
import { createTestDatabase, type TestDatabase } from "../postgres.ts";
import { type ServiceProcess, smtpSinkEnv, startServiceProcess } from "../service-process.ts";
import { type SmtpSink, startSmtpSink } from "../smtp-sink.ts";
import { until } from "../until.ts";

/** Key names "ops" (send, campaign, admin) and "booking" (send only). */
export const ADMIN_KEY = "console-admin-key-not-a-secret";
export const SEND_KEY = "console-send-key-not-a-secret";

const sha = (key: string) => createHash("sha256").update(key).digest("hex");

/** The service in a process of its own with API keys, an SMTP server it delivers to, and Chromium. */
export interface ConsoleRig {
  service: ServiceProcess;
  sink: SmtpSink;
  database: TestDatabase;
  browser: Browser;
  /** POST /v1/emails with the send key; the accepted job's id. */
  send(job: Record<string, unknown>): Promise<string>;
  /** A call to the service's HTTP API with `key`. */
  api(path: string, init?: { method?: string; body?: unknown; key?: string }): Promise<Response>;
  /** Waits until the SMTP server has a message for `recipient`. */
  delivered(recipient: string): Promise<void>;
  close(): Promise<void>;
}

export async function startConsoleRig(): Promise<ConsoleRig> {
  const database = await createTestDatabase("ew_console");
  const sink = await startSmtpSink();
  const service = await startServiceProcess({
    DATABASE_URL: database.url,
    QUEUE_POLL_INTERVAL: "100ms",
    API_KEYS: JSON.stringify([
      { name: "ops", sha256: sha(ADMIN_KEY), scopes: ["send", "campaign", "admin"] },
      { name: "booking", sha256: sha(SEND_KEY), scopes: ["send"] },
    ]),
    ...smtpSinkEnv(sink.port),
  });
  const browser = await launchChromium();
  const api: ConsoleRig["api"] = (path, init = {}) =>
    fetch(`${service.base}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        authorization: `Bearer ${init.key ?? SEND_KEY}`,
        ...(init.body !== undefined && { "content-type": "application/json" }),
      },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
  return {
    service,
    sink,
    database,
    browser,
    api,
    async send(job) {
      const res = await api("/v1/emails", { body: job });
      const body = (await res.json()) as { job_id?: string };
      expect(res.status, JSON.stringify(body)).toBe(202);
      return body.job_id as string;
    },
    async delivered(recipient) {
      await until(
        async () => sink.messages.some((m) => m.to.includes(recipient)),
        20_000,
        `a message for ${recipient}`,
      );
    },
    async close() {
      await browser.close();
      await service.stop();
      await sink.close();
      await database.drop();
    },
  };
}

/** Signs in on the console's page with `key`, landing on the overview. */
export async function signIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/admin/`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).waitFor();
}

/**
 * A console API call made by the signed-in page itself (its cookie, and for a change the session's
 * CSRF token, as the console's own script sends them): the status and the answer's text.
 */
export function consoleFetch(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (method !== "GET") {
        const state = (await (await fetch("/admin/api/session")).json()) as {
          session: { csrf_token: string };
        };
        headers["x-csrf-token"] = state.session.csrf_token;
      }
      const res = await fetch(path, {
        method,
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: res.status, text: await res.text() };
    },
    { method, path, body },
  );
}
