import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { NotFoundError } from "../../errors/error-kind.ts";
import type { LinkEvents } from "../../tracking/link-events.ts";
import type { LinkTokens, TrackingClaims } from "../../tracking/link-tokens.ts";
import type { RouteFamily } from "./http-io.ts";

export interface TrackingLinks {
  tokens: LinkTokens;
  events: LinkEvents;
}

export interface TrackingRoutesOptions {
  /** Absent: every /t/ path answers 404. */
  links: TrackingLinks | undefined;
  logger: Logger;
}

/** What a verified link does when fetched with a given method. */
export type LinkAction = "pixel" | "redirect" | "unsubscribe" | "confirm-unsubscribe";

/** A transparent 1×1 GIF. */
const PIXEL = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

/** The link kind and token in `/t/o/<token>.gif`, `/t/c/<token>` or `/t/u/<token>`. */
export function parseLinkPath(path: string): { kind: TrackingClaims["k"]; token: string } | undefined {
  const match = /^\/t\/([ocu])\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(\.gif)?$/.exec(path);
  return match ? { kind: match[1] as TrackingClaims["k"], token: match[2] as string } : undefined;
}

/** Undefined: the link does nothing for this method (404). */
export function linkAction(claims: TrackingClaims, method: string | undefined): LinkAction | undefined {
  if (claims.k === "o" && method === "GET") return "pixel";
  if (claims.k === "c" && method === "GET" && claims.u) return "redirect";
  if (claims.k === "u" && method === "POST") return "unsubscribe";
  // Link scanners fetch every link they see, so a GET must not unsubscribe: a person confirms.
  if (claims.k === "u" && method === "GET") return "confirm-unsubscribe";
  return undefined;
}

/** The service's own links: the open pixel, click redirects and one-click unsubscribe. */
export class TrackingRoutes implements RouteFamily {
  readonly #options: TrackingRoutesOptions;

  constructor(options: TrackingRoutesOptions) {
    this.#options = options;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (!url.pathname.startsWith("/t/")) return false;
    const { claims, events } = this.#verify(url.pathname);
    switch (linkAction(claims, req.method)) {
      case "pixel":
        await this.#record(events.open(claims, req.headers["user-agent"]));
        sendPixel(res);
        return true;
      case "redirect":
        await this.#record(events.click(claims));
        res.writeHead(302, { location: claims.u, "cache-control": "no-store" });
        res.end();
        return true;
      case "unsubscribe":
        // Unlike an open or a click, an unsubscribe that was not stored must not be confirmed.
        await events.unsubscribe(claims);
        sendHtml(res, "<!doctype html><p>You are unsubscribed and will not get these emails any more.</p>");
        return true;
      case "confirm-unsubscribe":
        sendHtml(
          res,
          '<!doctype html><form method="post"><p>Stop these emails?</p><button type="submit">Unsubscribe</button></form>',
        );
        return true;
      case undefined:
        throw noSuchLink();
    }
  }

  /** A link the service did not sign does not exist: no redirect to wherever it points. */
  #verify(path: string): { claims: TrackingClaims; events: LinkEvents } {
    const link = parseLinkPath(path);
    const links = this.#options.links;
    const claims = link && links?.tokens.verify(link.token);
    if (!link || !links || !claims || claims.k !== link.kind) throw noSuchLink();
    return { claims, events: links.events };
  }

  /** A lost open or click costs the reader nothing: the pixel or redirect is served all the same. */
  #record(work: Promise<void>): Promise<void> {
    return work.catch((error: unknown) =>
      this.#options.logger.warn({ err: error }, "tracking event not recorded"),
    );
  }
}

function noSuchLink(): NotFoundError {
  return new NotFoundError("no such link", "no_such_link");
}

function sendPixel(res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "image/gif",
    "cache-control": "no-store",
    "content-length": PIXEL.length,
  });
  res.end(PIXEL);
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(html);
}
