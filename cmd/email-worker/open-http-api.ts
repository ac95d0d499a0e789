import type { Config } from "../../internal/config/index.ts";
import type { ConsoleRoutes } from "../../internal/console/console-routes.ts";
import type { Logger } from "../../internal/log/logger.ts";
import type { Metrics } from "../../internal/metrics/metrics.ts";
import type { ApiKeyAuth } from "../../internal/server/auth/api-key-auth.ts";
import type { HealthMonitor } from "../../internal/server/http/health-monitor.ts";
import { HttpServer } from "../../internal/server/http/http-server.ts";
import type { Tracing } from "../../internal/tracing/tracing.ts";
import { EventRecorder } from "../../internal/tracking/event-recorder.ts";
import { LinkEvents } from "../../internal/tracking/link-events.ts";
import { SnsVerifier } from "../../internal/tracking/sns-verifier.ts";
import type { Delivery } from "./open-delivery.ts";
import type { Storage } from "./open-storage.ts";

/** The HTTP API (intake, campaigns, webhooks, tracking links, console) besides the probes. */
export function createHttpServer(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  storage: Storage,
  delivery: Delivery,
  auth: ApiKeyAuth,
  health: HealthMonitor,
  operatorConsole: ConsoleRoutes | undefined,
  tracing: Tracing,
): HttpServer {
  const { jobs, tracking, suppressions } = storage;
  return new HttpServer({
    port: config.server.port,
    service: delivery.service,
    campaigns: delivery.campaigns,
    auth,
    health,
    registry: metrics.registry,
    ...(delivery.tokens && {
      links: {
        tokens: delivery.tokens,
        events: new LinkEvents({
          jobs,
          tracking,
          suppressions,
          logger: logger.child({ component: "links" }),
        }),
      },
    }),
    webhooks: {
      recorder: new EventRecorder({
        jobs,
        tracking,
        suppressions,
        logger: logger.child({ component: "events" }),
        onEvent: (event) => metrics.providerEvents.inc({ provider: event.provider, type: event.type }),
      }),
      sendgridPublicKey: config.email.providers.sendgrid.webhook_public_key || undefined,
      sns:
        delivery.providers.names.includes("ses") || config.tracking.ses_topic_arns.length > 0
          ? new SnsVerifier({
              certificateHost: new RegExp(config.tracking.sns_certificate_host),
              maxAgeMs: config.tracking.webhook_max_age,
            })
          : undefined,
      sesTopicArns: config.tracking.ses_topic_arns,
      maxAgeMs: config.tracking.webhook_max_age,
    },
    console: operatorConsole,
    tracing,
    logger: logger.child({ component: "http" }),
  });
}
