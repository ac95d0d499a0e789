import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import type { CampaignAction } from "../campaign/campaign-status.ts";
import { KindedError, NotFoundError } from "../errors/error-kind.ts";
import { type ApiKeyAuth, type Caller, presentedKey } from "../server/auth/api-key-auth.ts";
import { parseJson, type RouteFamily, readBody } from "../server/http/http-io.ts";
import type { SessionState, SessionView } from "./console-api.ts";
import { CONSOLE_SECURITY_HEADERS, type ConsoleAssets } from "./console-assets.ts";
import type { ConsoleHandlers } from "./console-handlers.ts";
import type { ConsoleSession, ConsoleSessions } from "./console-session.ts";
import { SignInThrottle } from "./sign-in-throttle.ts";

export interface ConsoleRoutesOptions {
  auth: ApiKeyAuth;
  sessions: ConsoleSessions;
  assets: ConsoleAssets;
  handlers: ConsoleHandlers;
  logger: Logger;
  throttle?: SignInThrottle;
}

export const SESSION_COOKIE = "ew_console";

/** A template of 512 KiB in JSON, escaped, with its sample data: the largest thing the console sends. */
const CONSOLE_BODY_BYTES = 4 * 1024 * 1024;

/**
 * What a console user may do. Reading jobs, templates and the overview needs `send` or `admin` (the
 * API lets a `send` key read jobs and templates); changing anything, reading dead letters and
 * suppressions, and seeing a message's rendered content (the API never shows bodies to `send`),
 * needs `admin`; campaigns need `campaign` or `admin`, as they do in the API.
 */
type Need = "read" | "admin" | "campaigns";

function can(scopes: readonly string[], need: Need): boolean {
  if (need === "read") return scopes.includes("send") || scopes.includes("admin");
  if (need === "admin") return scopes.includes("admin");
  return scopes.includes("campaign") || scopes.includes("admin");
}

interface Request {
  req: IncomingMessage;
  url: URL;
  /** The path's captured parts, decoded. */
  params: string[];
  body: () => Promise<unknown>;
}

interface ApiRoute {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: RegExp;
  need: Need;
  /** Logged with the user's key name when it succeeds: what it changed. */
  action?: string;
  run: (request: Request) => Promise<unknown>;
}

/** What a change's answer adds to its log line: how much it did (never an address). */
function outcomeOf(result: unknown): Record<string, unknown> {
  const r = result as {
    replayed?: unknown[];
    missing?: unknown[];
    dry_run?: boolean;
    deleted?: boolean;
    removed?: boolean;
  };
  return {
    ...(Array.isArray(r?.replayed) && {
      replayed: r.replayed.length,
      missing: r.missing?.length ?? 0,
      dry_run: r.dry_run,
    }),
    ...(typeof r?.deleted === "boolean" && { deleted: r.deleted }),
    ...(typeof r?.removed === "boolean" && { removed: r.removed }),
  };
}

const ID = "([^/]+)";

function apiRoutes(handlers: ConsoleHandlers): ApiRoute[] {
  const route = (
    method: ApiRoute["method"],
    path: string,
    need: Need,
    run: ApiRoute["run"],
    action?: string,
  ): ApiRoute => ({ method, path: new RegExp(`^/admin/api/${path}$`), need, run, ...(action && { action }) });
  const param = (r: Request, i = 0) => r.params[i] as string;
  return [
    route("GET", "overview", "read", () => handlers.overview()),
    route("POST", "jobs/search", "read", async (r) => handlers.searchJobs(await r.body())),
    route("GET", `jobs/${ID}`, "read", (r) => handlers.job(param(r))),
    route("GET", `jobs/${ID}/preview`, "admin", (r) => handlers.jobPreview(param(r))),
    route("POST", `jobs/${ID}/cancel`, "admin", (r) => handlers.cancelJob(param(r)), "job.cancel"),
    route("POST", `jobs/${ID}/retry`, "admin", (r) => handlers.retryJob(param(r)), "job.retry"),
    route("POST", "dead-letters/search", "admin", async (r) => handlers.deadLetters(await r.body())),
    route(
      "POST",
      "dead-letters/replay",
      "admin",
      async (r) => handlers.replayDeadLetters(await r.body()),
      "dead_letters.replay",
    ),
    route("GET", "templates", "read", (r) => handlers.templateList(r.url.searchParams)),
    route("POST", "templates/preview", "read", async (r) => handlers.previewTemplate(await r.body())),
    route("GET", `templates/${ID}`, "read", (r) => handlers.template(param(r))),
    route(
      "PUT",
      `templates/${ID}`,
      "admin",
      async (r) => handlers.saveTemplate(param(r), await r.body()),
      "template.save",
    ),
    route("DELETE", `templates/${ID}`, "admin", (r) => handlers.deleteTemplate(param(r)), "template.delete"),
    route("POST", "suppressions/search", "admin", async (r) => handlers.suppressions(await r.body())),
    route(
      "POST",
      "suppressions",
      "admin",
      async (r) => handlers.addSuppression(await r.body()),
      "suppression.add",
    ),
    route(
      "POST",
      "suppressions/remove",
      "admin",
      async (r) => handlers.removeSuppression(await r.body()),
      "suppression.remove",
    ),
    route("GET", "campaigns", "campaigns", (r) => handlers.campaignList(r.url.searchParams)),
    route(
      "POST",
      `campaigns/${ID}/(start|pause|resume|cancel)`,
      "campaigns",
      (r) => handlers.campaignAction(param(r), param(r, 1) as CampaignAction),
      "campaign",
    ),
  ];
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "::1"]);

/** A path segment decoded; one that is not valid percent-encoding names nothing here. */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new NotFoundError(`"${segment}" is not a valid path segment`, "no_route");
  }
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sendConsoleJson(res: ServerResponse, status: number, body: unknown, cookie?: string): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...CONSOLE_SECURITY_HEADERS,
    "cache-control": "no-store",
    ...(text && { "content-type": "application/json", "content-length": Buffer.byteLength(text) }),
    ...(cookie && { "set-cookie": cookie }),
  });
  res.end(text);
}

/**
 * The operator console: its pages under /admin, its JSON API under /admin/api. A browser signs in
 * with an API key once and then holds only an HttpOnly, SameSite=Strict session cookie; every
 * request that changes something must also carry the session's CSRF token, and every change is
 * logged with the key's name. With no API keys configured the console is open, as the API is.
 */
export class ConsoleRoutes implements RouteFamily {
  readonly #options: ConsoleRoutesOptions;
  readonly #routes: ApiRoute[];
  readonly #throttle: SignInThrottle;

  constructor(options: ConsoleRoutesOptions) {
    this.#options = options;
    this.#routes = apiRoutes(options.handlers);
    this.#throttle = options.throttle ?? new SignInThrottle({ maxFailures: 10, windowMs: 60_000 });
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const { pathname } = url;
    if (pathname === "/admin") {
      res.writeHead(308, { location: "/admin/" });
      res.end();
      return true;
    }
    if (!pathname.startsWith("/admin/")) return false;
    if (pathname === "/admin/api/session") return this.#session(req, res);
    if (pathname.startsWith("/admin/api/")) return this.#api(req, res, url);
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    if (pathname.startsWith("/admin/assets/"))
      return this.#options.assets.sendAsset(res, pathname.slice("/admin/assets/".length));
    this.#options.assets.sendIndex(res);
    return true;
  }

  async #session(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const { auth, logger } = this.#options;
    this.#refuseRebinding(req);
    if (req.method === "GET") {
      const current = this.#signedIn(req);
      if (current) {
        sendConsoleJson(res, 200, {
          session: this.#view(current.session, current.caller),
        } satisfies SessionState);
        return true;
      }
      // No keys configured: the console is open, as the API is; the session still carries the
      // CSRF token that changes need.
      if (!auth.enabled)
        return this.#start(req, res, auth.byName("anonymous") as Caller, (session) => ({ session }));
      sendConsoleJson(res, 200, { session: null } satisfies SessionState);
      return true;
    }
    if (req.method === "POST") {
      // A form on another site cannot send JSON without asking first: no one is signed in with a
      // key of the attacker's choosing (login CSRF).
      this.#refuseCrossSite(req, true);
      const address = req.socket.remoteAddress ?? "unknown";
      // Counted before the body is read, so parallel guesses cannot all slip past the limit.
      const wait = this.#throttle.attempt(address);
      if (wait > 0)
        throw new KindedError("throttled", `too many failed sign-ins; try again in ${wait} s`, {
          code: "sign_in_throttled",
        });
      const body = parseJson(await readBody(req, 64 * 1024)) as { api_key?: unknown } | null;
      const presented = typeof body?.api_key === "string" ? body.api_key.trim() : presentedKey(req.headers);
      const caller = auth.enabled ? auth.authenticate(presented) : auth.byName("anonymous");
      if (!caller) {
        logger.warn({ remote_address: address }, "console sign-in refused: unknown API key");
        throw new KindedError("unauthenticated", "unknown API key");
      }
      this.#throttle.succeeded(address);
      logger.info({ console_user: caller.name, scopes: caller.scopes }, "console sign-in");
      return this.#start(req, res, caller);
    }
    if (req.method === "DELETE") {
      const current = this.#signedIn(req);
      if (current) {
        this.#requireCsrf(req, current.session);
        logger.info({ console_user: current.caller.name }, "console sign-out");
      }
      sendConsoleJson(res, 204, undefined, this.#cookie(req, "", 0));
      return true;
    }
    return false;
  }

  /** Issues a session's cookie, answering its view (as `answer` shapes it). */
  #start(
    req: IncomingMessage,
    res: ServerResponse,
    caller: Caller,
    answer: (view: SessionView) => unknown = (view) => view,
  ): boolean {
    const { sessions } = this.#options;
    const { session, token } = sessions.issue(caller.name, caller.keyId);
    const view = this.#view(session, caller);
    sendConsoleJson(res, 200, answer(view), this.#cookie(req, token, sessions.ttlMs / 1000));
    return true;
  }

  async #api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    let matched: { route: ApiRoute; params: string[] } | undefined;
    let pathKnown = false;
    for (const route of this.#routes) {
      const match = route.path.exec(url.pathname);
      if (!match) continue;
      pathKnown = true;
      if (route.method === req.method) {
        matched = { route, params: match.slice(1).map(decodedSegment) };
        break;
      }
    }
    if (!matched) {
      if (pathKnown)
        throw new KindedError("invalid_argument", `${req.method} is not allowed on ${url.pathname}`, {
          code: "method_not_allowed",
        });
      throw new NotFoundError(`no console API ${url.pathname}`, "no_route");
    }
    const { route, params } = matched;
    this.#refuseRebinding(req);
    const current = this.#signedIn(req);
    if (!current) throw new KindedError("unauthenticated", "sign in with an API key");
    if (route.method !== "GET") {
      this.#refuseCrossSite(req, false);
      this.#requireCsrf(req, current.session);
    }
    if (!can(current.caller.scopes, route.need))
      throw new KindedError(
        "permission_denied",
        `API key "${current.caller.name}" may not do this: it needs the ${route.need === "campaigns" ? "campaign or admin" : "admin"} scope`,
      );
    const result = await route.run({
      req,
      url,
      params,
      body: async () => parseJson(await readBody(req, CONSOLE_BODY_BYTES)),
    });
    if (route.action)
      this.#options.logger.info(
        {
          console_user: current.caller.name,
          action: route.action === "campaign" ? `campaign.${params[1]}` : route.action,
          // Ids only: an address (a suppression's) stays out of the log line.
          ...(params[0] !== undefined && { target: params[0] }),
          ...outcomeOf(result),
        },
        "console action",
      );
    sendConsoleJson(res, 200, result);
    return true;
  }

  /** The session the request's cookie carries, with its key as configured now. */
  #signedIn(req: IncomingMessage): { session: ConsoleSession; caller: Caller } | undefined {
    const session = this.#options.sessions.read(cookieValue(req, SESSION_COOKIE));
    if (!session) return undefined;
    // A key removed from the configuration, renamed or replaced ends its sessions.
    const caller = this.#options.auth.byName(session.name);
    if (!caller || !this.#options.sessions.isFor(session, caller.keyId)) return undefined;
    return { session, caller };
  }

  /**
   * With no API keys, anyone who reaches the port may use the console, so it answers only requests
   * addressed to this machine: a page whose name an attacker points at 127.0.0.1 (DNS rebinding)
   * would otherwise be same-origin with it.
   */
  #refuseRebinding(req: IncomingMessage): void {
    if (this.#options.auth.enabled) return;
    const host = (req.headers.host ?? "")
      .replace(/:\d+$/, "")
      .replace(/^\[(.*)\]$/, "$1")
      .toLowerCase();
    if (!LOOPBACK_HOSTS.has(host))
      throw new KindedError(
        "permission_denied",
        "with no API keys configured the console answers only at localhost; configure server.api_keys to reach it by another name",
        { code: "console_open_to_localhost_only" },
      );
  }

  /**
   * Changes come from the console's own pages: JSON (which a form on another site cannot send
   * without the browser asking first) and, when the browser says where it comes from, this origin.
   */
  #refuseCrossSite(req: IncomingMessage, requireJson: boolean): void {
    const site = req.headers["sec-fetch-site"];
    const crossSite = typeof site === "string" && site !== "same-origin" && site !== "none";
    const type = req.headers["content-type"] ?? "";
    if (crossSite || (requireJson && !/^application\/json\b/i.test(type)))
      throw new KindedError(
        "permission_denied",
        "the console takes changes only from its own pages, as JSON",
        {
          code: "cross_site",
        },
      );
  }

  #requireCsrf(req: IncomingMessage, session: ConsoleSession): void {
    const header = req.headers["x-csrf-token"];
    if (!this.#options.sessions.checkCsrf(session, typeof header === "string" ? header : undefined))
      throw new KindedError("permission_denied", "missing or wrong CSRF token: reload the console", {
        code: "csrf",
      });
  }

  #view(session: ConsoleSession, caller: Caller): SessionView {
    const { auth, sessions, handlers } = this.#options;
    return {
      name: caller.name,
      scopes: [...caller.scopes],
      auth_required: auth.enabled,
      can: {
        admin: can(caller.scopes, "admin"),
        campaigns: handlers.hasCampaigns && can(caller.scopes, "campaigns"),
      },
      csrf_token: sessions.csrfToken(session),
      expires_at: new Date(session.expiresAt).toISOString(),
    };
  }

  /**
   * The session cookie: only ever sent back to /admin, never readable by a page's script, and over
   * HTTPS only when the console was reached over HTTPS (directly or through a proxy saying so).
   */
  #cookie(req: IncomingMessage, token: string, maxAgeSeconds: number): string {
    const secure =
      (req.socket as TLSSocket).encrypted === true || req.headers["x-forwarded-proto"] === "https";
    return `${SESSION_COOKIE}=${token}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeSeconds)}${secure ? "; Secure" : ""}`;
  }
}
