import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { CampaignService } from "../../campaign/campaign-service.ts";
import type { ConsoleRoutes } from "../../console/console-routes.ts";
import type { EmailService } from "../../service/email-service.ts";
import type { Tracing } from "../../tracing/tracing.ts";
import type { ApiKeyAuth } from "../auth/api-key-auth.ts";
import { CampaignRoutes } from "./campaign-routes.ts";
import type { HealthMonitor } from "./health-monitor.ts";
import { errorResponse, noRoute } from "./http-errors.ts";
import { type RouteFamily, sendJson } from "./http-io.ts";
import { IntakeRoutes } from "./intake-routes.ts";
import { ProbeRoutes } from "./probe-routes.ts";
import { type TrackingLinks, TrackingRoutes } from "./tracking-routes.ts";
import { type WebhookOptions, WebhookRoutes } from "./webhook-routes.ts";

/** What a process that takes emails serves besides its probes; absent in a worker process. */
export interface HttpApiOptions {
  service: EmailService;
  /** The campaign API; absent: /v1/campaigns answers 404. */
  campaigns?: CampaignService | undefined;
  auth: ApiKeyAuth;
  /** Provider event webhooks; a provider without its key configured answers 404. */
  webhooks?: WebhookOptions;
  /** The service's own open/click/unsubscribe links; absent: /t/* answers 404. */
  links?: TrackingLinks;
  /** The operator console at /admin; absent: /admin answers 404. */
  console?: ConsoleRoutes | undefined;
  /** OpenTelemetry spans for intake; off when absent. */
  tracing?: Tracing | undefined;
}

export interface HttpServerOptions extends Partial<HttpApiOptions> {
  port: number;
  host?: string;
  health: HealthMonitor;
  registry: Registry;
  logger: Logger;
}

/**
 * The HTTP side of the service: probes and `/metrics`, and (given a service, in every role but
 * `worker`) the JSON intake, provider webhooks, tracking links and the operator console, each family
 * in its own module. This owns the listening socket, hands each request
 * to the family whose paths it is on, and turns whatever a route throws into the reply.
 */
export class HttpServer {
  readonly #options: HttpServerOptions;
  readonly #server: Server;
  readonly #routes: readonly RouteFamily[];

  constructor(options: HttpServerOptions) {
    this.#options = options;
    const { health, logger, service, auth } = options;
    this.#routes = [
      new ProbeRoutes({ health, registry: options.registry }),
      ...(service && auth
        ? [
            new IntakeRoutes({ service, auth, health, tracing: options.tracing }),
            ...(options.campaigns
              ? [new CampaignRoutes({ campaigns: options.campaigns, auth, health })]
              : []),
            new WebhookRoutes({ webhooks: options.webhooks, logger }),
            new TrackingRoutes({ links: options.links, logger }),
            ...(options.console ? [options.console] : []),
          ]
        : []),
    ];
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => this.#fail(error, req, res));
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#options.port, this.#options.host ?? "0.0.0.0", resolve);
    });
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    for (const routes of this.#routes) if (await routes.handle(req, res, url)) return;
    throw noRoute(req.method, url.pathname);
  }

  #fail(error: unknown, req: IncomingMessage, res: ServerResponse): void {
    const { status, body } = errorResponse(error);
    // Every other status is an answer the service meant to give; a 500 is a fault to look into.
    if (status === 500) this.#options.logger.error({ err: error, path: req.url }, "request failed");
    // Refused before its body was read (unsigned, unauthenticated, too large): hang up rather than
    // read and discard the rest, so a refused upload costs neither memory nor time.
    if (!req.complete) res.setHeader("connection", "close");
    sendJson(res, status, body);
  }
}
