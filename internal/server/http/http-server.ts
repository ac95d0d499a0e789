import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { CampaignService } from "../../campaign/campaign-service.ts";
import type { ConsoleRoutes } from "../../console/console-routes.ts";
import type { EmailService } from "../../service/email-service.ts";
import type { Tracing } from "../../tracing/tracing.ts";
import type { ApiKeyAuth } from "../auth/api-key-auth.ts";
import { CampaignRoutes } from "./campaign-routes.ts";
import type { HealthMonitor } from "./health-monitor.ts";
import { HttpListener } from "./http-listener.ts";
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
 * in its own module.
 */
export class HttpServer extends HttpListener {
  constructor(options: HttpServerOptions) {
    const { health, logger, service, auth } = options;
    super({
      port: options.port,
      ...(options.host !== undefined && { host: options.host }),
      logger,
      routes: [
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
      ],
    });
  }
}
