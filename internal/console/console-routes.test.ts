import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ApiKeyConfig } from "../config/index.ts";
import { ApiKeyAuth } from "../server/auth/api-key-auth.ts";
import { errorResponse } from "../server/http/http-errors.ts";
import { sendJson } from "../server/http/http-io.ts";
import type { SessionState, SessionView } from "./console-api.ts";
import { ConsoleAssets } from "./console-assets.ts";
import type { ConsoleHandlers } from "./console-handlers.ts";
import { ConsoleRoutes, SESSION_COOKIE } from "./console-routes.ts";
import { ConsoleSessions } from "./console-session.ts";
import { SignInThrottle } from "./sign-in-throttle.ts";

const ADMIN_KEY = "test-admin-key-not-a-secret";
const SEND_KEY = "test-send-key-not-a-secret";

function key(name: string, presented: string, scopes: ApiKeyConfig["scopes"]): ApiKeyConfig {
  return { name, sha256: createHash("sha256").update(presented).digest("hex"), scopes };
}

const CAMPAIGN_KEY = "test-campaign-key-not-a-secret";
const KEYS = [
  key("ops-admin", ADMIN_KEY, ["admin"]),
  key("booking", SEND_KEY, ["send"]),
  key("marketing", CAMPAIGN_KEY, ["campaign"]),
];

/** What the handlers were asked: the routes' logic is under test, not the services behind them. */
const calls: string[] = [];
const handlers = {
  hasCampaigns: true,
  overview: async () => {
    calls.push("overview");
    return { driver: "memory" };
  },
  searchJobs: async (input: unknown) => {
    calls.push(`search ${JSON.stringify(input)}`);
    return { jobs: [], next_cursor: null };
  },
  cancelJob: async (id: string) => {
    calls.push(`cancel ${id}`);
    return { job: { id } };
  },
  deadLetters: async () => ({ dead_letters: [], next_cursor: null, total: 0 }),
  jobPreview: async () => ({ ok: false, error: "not here" }),
  addSuppression: async () => ({ suppression: { email: "someone@example.com" } }),
  campaignAction: async (id: string, action: string) => ({ campaign: { id, status: action } }),
} as unknown as ConsoleHandlers;

interface Harness {
  base: string;
  log: () => string[];
  close(): Promise<void>;
}

let assetsDir: string;

async function serve(options: {
  keys?: ApiKeyConfig[];
  secret?: string;
  now?: () => number;
  throttle?: SignInThrottle;
  assets?: ConsoleAssets;
}): Promise<Harness> {
  const lines: string[] = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const routes = new ConsoleRoutes({
    auth: new ApiKeyAuth(options.keys ?? KEYS),
    sessions: new ConsoleSessions({
      secret: options.secret ?? "test-secret",
      ttlMs: 60_000,
      ...(options.now && { now: options.now }),
    }),
    assets: options.assets ?? (await ConsoleAssets.load(assetsDir)),
    handlers,
    logger,
    ...(options.throttle && { throttle: options.throttle }),
  });
  // The HTTP server's own error handling, in short: a thrown error becomes its status and JSON.
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    routes.handle(req, res, url).then(
      (handled) => {
        if (!handled) sendJson(res, 404, { error: "no route" });
      },
      (error: unknown) => {
        const { status, body } = errorResponse(error);
        sendJson(res, status, body);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log: () => lines,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function signIn(h: Harness, apiKey: string): Promise<{ cookie: string; session: SessionView }> {
  const res = await fetch(`${h.base}/admin/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ api_key: apiKey }),
  });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get("set-cookie") ?? "";
  return { cookie: setCookie.split(";")[0] as string, session: (await res.json()) as SessionView };
}

function call(
  h: Harness,
  path: string,
  init: { method?: string; cookie?: string; csrf?: string; body?: unknown },
) {
  return fetch(`${h.base}${path}`, {
    method: init.method ?? "GET",
    headers: {
      ...(init.cookie && { cookie: init.cookie }),
      ...(init.csrf !== undefined && { "x-csrf-token": init.csrf }),
      ...(init.body !== undefined && { "content-type": "application/json" }),
    },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
}

beforeAll(async () => {
  assetsDir = await mkdtemp(join(tmpdir(), "ew-console-assets-"));
  await mkdir(join(assetsDir, "assets"));
  await writeFile(join(assetsDir, "index.html"), "<!doctype html><title>console</title>");
  await writeFile(join(assetsDir, "assets", "console-abc.js"), "export {};");
});

afterAll(async () => {
  await rm(assetsDir, { recursive: true, force: true });
});

describe("console sign-in and sessions", () => {
  let h: Harness;
  afterEach(async () => {
    calls.length = 0;
    await h.close();
  });

  it("refuses the API without a session and an unknown key at sign-in", async () => {
    h = await serve({});
    const signedOut = await call(h, "/admin/api/session", {});
    expect(signedOut.status).toBe(200);
    expect(await signedOut.json()).toEqual({ session: null });
    expect((await call(h, "/admin/api/overview", {})).status).toBe(401);
    const refused = await fetch(`${h.base}/admin/api/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ api_key: "not-a-key" }),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("set-cookie")).toBeNull();
    expect(calls).toEqual([]);
  });

  it("exchanges an admin key for an HttpOnly, SameSite=Strict cookie that never carries the key", async () => {
    h = await serve({});
    const res = await fetch(`${h.base}/admin/api/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ api_key: ADMIN_KEY }),
    });
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(
      new RegExp(`^${SESSION_COOKIE}=[^;]+; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=60$`),
    );
    expect(setCookie).not.toContain(ADMIN_KEY);
    const body = (await res.json()) as SessionView;
    expect(body).toMatchObject({
      name: "ops-admin",
      auth_required: true,
      can: { admin: true, campaigns: true },
    });
    expect(JSON.stringify(body)).not.toContain(ADMIN_KEY);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(h.log().join("")).toContain('"console_user":"ops-admin"');
    expect(h.log().join("")).not.toContain(ADMIN_KEY);

    const cookie = setCookie.split(";")[0] as string;
    const again = await call(h, "/admin/api/session", { cookie });
    expect(((await again.json()) as SessionState).session?.csrf_token).toBe(body.csrf_token);
  });

  it("marks the cookie Secure when the console is reached over HTTPS through a proxy", async () => {
    h = await serve({});
    const res = await fetch(`${h.base}/admin/api/session`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-proto": "https" },
      body: JSON.stringify({ api_key: ADMIN_KEY }),
    });
    expect(res.headers.get("set-cookie")).toMatch(/; Secure$/);
  });

  it("refuses a change without the session's CSRF token, or with another session's", async () => {
    h = await serve({});
    const { cookie, session } = await signIn(h, ADMIN_KEY);
    const other = await signIn(h, ADMIN_KEY);
    const body = { status: ["sent"] };
    for (const csrf of [undefined, "", "forged", other.session.csrf_token]) {
      const res = await call(h, "/admin/api/jobs/search", {
        method: "POST",
        cookie,
        body,
        ...(csrf !== undefined && { csrf }),
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toContain("CSRF");
    }
    expect(calls).toEqual([]);
    const ok = await call(h, "/admin/api/jobs/search", {
      method: "POST",
      cookie,
      body,
      csrf: session.csrf_token,
    });
    expect(ok.status).toBe(200);
    expect(calls).toEqual([`search ${JSON.stringify(body)}`]);
  });

  it("lets a send-scope session read but refuses it every admin endpoint", async () => {
    h = await serve({});
    const { cookie, session } = await signIn(h, SEND_KEY);
    expect(session.can).toEqual({ admin: false, campaigns: false });
    expect((await call(h, "/admin/api/overview", { cookie })).status).toBe(200);
    const csrf = session.csrf_token;
    const refused = [
      await call(h, "/admin/api/jobs/0b0e8a4e-7c1b-4a57-9d1c-2a1f3e4d5c6b/cancel", {
        method: "POST",
        cookie,
        csrf,
      }),
      await call(h, "/admin/api/dead-letters/search", { method: "POST", cookie, csrf, body: {} }),
      await call(h, "/admin/api/jobs/0b0e8a4e-7c1b-4a57-9d1c-2a1f3e4d5c6b/preview", { cookie }),
      await call(h, "/admin/api/suppressions", {
        method: "POST",
        cookie,
        csrf,
        body: { email: "a@example.com", reason: "manual" },
      }),
      await call(h, "/admin/api/campaigns/0b0e8a4e-7c1b-4a57-9d1c-2a1f3e4d5c6b/pause", {
        method: "POST",
        cookie,
        csrf,
      }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toContain('API key "booking" may not do this');
    }
    expect(calls).toEqual(["overview"]);
  });

  it("logs every change with the key's name and the target's id, never an address", async () => {
    h = await serve({});
    const { cookie, session } = await signIn(h, ADMIN_KEY);
    const csrf = session.csrf_token;
    const id = "0b0e8a4e-7c1b-4a57-9d1c-2a1f3e4d5c6b";
    expect((await call(h, `/admin/api/jobs/${id}/cancel`, { method: "POST", cookie, csrf })).status).toBe(
      200,
    );
    expect((await call(h, `/admin/api/campaigns/${id}/pause`, { method: "POST", cookie, csrf })).status).toBe(
      200,
    );
    const add = await call(h, "/admin/api/suppressions", {
      method: "POST",
      cookie,
      csrf,
      body: { email: "someone@example.com", reason: "manual" },
    });
    expect(add.status).toBe(200);
    const actions = h
      .log()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.msg === "console action");
    expect(actions.map(({ console_user, action, target }) => ({ console_user, action, target }))).toEqual([
      { console_user: "ops-admin", action: "job.cancel", target: id },
      { console_user: "ops-admin", action: "campaign.pause", target: id },
      { console_user: "ops-admin", action: "suppression.add", target: undefined },
    ]);
    expect(h.log().join("")).not.toContain("someone@example.com");
  });

  it("ends sessions that expired, were altered, were signed with another secret or whose key was removed", async () => {
    let now = 1_000_000;
    h = await serve({ now: () => now });
    const { cookie } = await signIn(h, ADMIN_KEY);
    expect((await call(h, "/admin/api/overview", { cookie })).status).toBe(200);

    const [name, value] = cookie.split("=") as [string, string];
    const [payload, mac] = value.split(".") as [string, string];
    const altered = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    altered.name = "booking";
    const forged = `${name}=${Buffer.from(JSON.stringify(altered)).toString("base64url")}.${mac}`;
    expect((await call(h, "/admin/api/overview", { cookie: forged })).status).toBe(401);

    const otherReplica = await serve({ secret: "another-secret", now: () => now });
    const sameSecret = await serve({ now: () => now });
    const keyRemoved = await serve({ keys: [KEYS[1] as ApiKeyConfig], now: () => now });
    // A leaked key replaced by a new one under the same name: the old key's sessions end with it.
    const keyReplaced = await serve({
      keys: [key("ops-admin", "the-new-admin-key-not-a-secret", ["admin"]), KEYS[1] as ApiKeyConfig],
      now: () => now,
    });
    try {
      expect((await call(otherReplica, "/admin/api/overview", { cookie })).status).toBe(401);
      expect((await call(sameSecret, "/admin/api/overview", { cookie })).status).toBe(200);
      expect((await call(keyRemoved, "/admin/api/overview", { cookie })).status).toBe(401);
      expect((await call(keyReplaced, "/admin/api/overview", { cookie })).status).toBe(401);
    } finally {
      await Promise.all([otherReplica.close(), sameSecret.close(), keyRemoved.close(), keyReplaced.close()]);
    }

    now += 60_001;
    expect((await call(h, "/admin/api/overview", { cookie })).status).toBe(401);
  });

  it("refuses a sign-in or a change sent from another site (login CSRF), and a sign-in that is not JSON", async () => {
    h = await serve({});
    const signInFrom = (headers: Record<string, string>) =>
      fetch(`${h.base}/admin/api/session`, {
        method: "POST",
        headers,
        body: JSON.stringify({ api_key: ADMIN_KEY }),
      });
    // What an auto-submitted form on another site sends: text/plain, marked cross-site by the browser.
    expect((await signInFrom({ "content-type": "text/plain" })).status).toBe(403);
    expect(
      (await signInFrom({ "content-type": "application/json", "sec-fetch-site": "cross-site" })).status,
    ).toBe(403);
    const { cookie, session } = await signIn(h, ADMIN_KEY);
    const id = "0b0e8a4e-7c1b-4a57-9d1c-2a1f3e4d5c6b";
    const crossSite = await fetch(`${h.base}/admin/api/jobs/${id}/cancel`, {
      method: "POST",
      headers: { cookie, "x-csrf-token": session.csrf_token, "sec-fetch-site": "same-site" },
    });
    expect(crossSite.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it("lets a campaign-only key steer campaigns but read no jobs", async () => {
    h = await serve({});
    const { cookie, session } = await signIn(h, CAMPAIGN_KEY);
    expect(session.can).toEqual({ admin: false, campaigns: true });
    expect((await call(h, "/admin/api/overview", { cookie })).status).toBe(403);
    const id = "0b0e8a4e-7c1b-4a57-9d1c-2a1f3e4d5c6b";
    const pause = await call(h, `/admin/api/campaigns/${id}/pause`, {
      method: "POST",
      cookie,
      csrf: session.csrf_token,
    });
    expect(pause.status).toBe(200);
  });

  it("answers a path that is not valid percent-encoding with 404, not a fault", async () => {
    h = await serve({});
    const { cookie } = await signIn(h, ADMIN_KEY);
    for (const path of ["/admin/api/templates/%", "/admin/api/jobs/%E0%A4/preview"])
      expect((await call(h, path, { cookie })).status).toBe(404);
  });

  it("signs out by clearing the cookie, with the CSRF token", async () => {
    h = await serve({});
    const { cookie, session } = await signIn(h, ADMIN_KEY);
    expect((await call(h, "/admin/api/session", { method: "DELETE", cookie })).status).toBe(403);
    const out = await call(h, "/admin/api/session", { method: "DELETE", cookie, csrf: session.csrf_token });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(
      new RegExp(`^${SESSION_COOKIE}=; Path=/admin; .*Max-Age=0`),
    );
  });

  it("turns an address away after repeated failed sign-ins", async () => {
    h = await serve({ throttle: new SignInThrottle({ maxFailures: 3, windowMs: 60_000 }) });
    const attempt = () =>
      fetch(`${h.base}/admin/api/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ api_key: "guess" }),
      });
    for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401);
    const throttled = await attempt();
    expect(throttled.status).toBe(429);
    expect(((await throttled.json()) as { error: string }).error).toMatch(/too many failed sign-ins/);
  });

  it("is open with every permission when no API keys are configured, still with a CSRF token", async () => {
    h = await serve({ keys: [] });
    const res = await call(h, "/admin/api/session", {});
    expect(res.status).toBe(200);
    const { session } = (await res.json()) as { session: SessionView };
    expect(session).toMatchObject({ name: "anonymous", auth_required: false, can: { admin: true } });
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] as string;
    const id = "0b0e8a4e-7c1b-4a57-9d1c-2a1f3e4d5c6b";
    expect((await call(h, `/admin/api/jobs/${id}/cancel`, { method: "POST", cookie })).status).toBe(403);
    expect(
      (await call(h, `/admin/api/jobs/${id}/cancel`, { method: "POST", cookie, csrf: session.csrf_token }))
        .status,
    ).toBe(200);
    // A page of another name pointed at this machine (DNS rebinding) gets nothing from the open console.
    // (fetch will not send another Host, so this goes through node:http.)
    const rebound = await new Promise<IncomingMessage>((resolve, reject) => {
      const url = new URL(`${h.base}/admin/api/session`);
      request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: { host: "attacker.example:8080" },
      })
        .on("response", resolve)
        .on("error", reject)
        .end();
    });
    rebound.resume();
    expect(rebound.statusCode).toBe(403);
    expect(rebound.headers["set-cookie"]).toBeUndefined();
  });
});

describe("console pages", () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it("serves the page for every console path with a policy that forbids inline script", async () => {
    h = await serve({});
    const redirect = await fetch(`${h.base}/admin`, { redirect: "manual" });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get("location")).toBe("/admin/");
    for (const path of ["/admin/", "/admin/jobs/0b0e8a4e-7c1b-4a57-9d1c-2a1f3e4d5c6b", "/admin/templates"]) {
      const page = await fetch(`${h.base}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await page.text()).toContain("<title>console</title>");
    }
    const asset = await fetch(`${h.base}/admin/assets/console-abc.js`);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${h.base}/admin/assets/../index.html`)).status).not.toBe(500);
    expect((await fetch(`${h.base}/admin/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${h.base}/admin/api/no-such-thing`)).status).toBe(404);
  });

  it("says how to build the console when its files are missing", async () => {
    h = await serve({ assets: await ConsoleAssets.load(join(assetsDir, "nowhere")) });
    const page = await fetch(`${h.base}/admin/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain("npm run console:build");
  });
});
