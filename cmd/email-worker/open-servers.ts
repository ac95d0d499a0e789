import { BounceIntake } from "../../internal/bounce/bounce-intake.ts";
import { BounceListener } from "../../internal/bounce/bounce-listener.ts";
import { ReturnPath } from "../../internal/bounce/return-path.ts";
import { type Config, consumes, servesApi } from "../../internal/config/index.ts";
import { ConsoleAssets, defaultConsoleAssetsDir } from "../../internal/console/console-assets.ts";
import { ConsoleHandlers } from "../../internal/console/console-handlers.ts";
import { ConsoleRoutes } from "../../internal/console/console-routes.ts";
import { ConsoleSessions } from "../../internal/console/console-session.ts";
import type { Logger } from "../../internal/log/logger.ts";
import type { Metrics } from "../../internal/metrics/metrics.ts";
import { ApiKeyAuth } from "../../internal/server/auth/api-key-auth.ts";
import { emailWorkerHandlers } from "../../internal/server/grpc/email-worker-handlers.ts";
import { GrpcServer } from "../../internal/server/grpc/grpc-server.ts";
import { HealthMonitor } from "../../internal/server/http/health-monitor.ts";
import { HttpServer } from "../../internal/server/http/http-server.ts";
import { UnattributedBounceRepository } from "../../internal/store/unattributed-bounce-repository.ts";
import type { Tracing } from "../../internal/tracing/tracing.ts";
import { EventRecorder } from "../../internal/tracking/event-recorder.ts";
import { LinkEvents } from "../../internal/tracking/link-events.ts";
import { SnsVerifier } from "../../internal/tracking/sns-verifier.ts";
import { livenessThresholdMs } from "../../internal/worker/liveness.ts";
import type { PeriodicTask } from "../../internal/worker/periodic-task.ts";
import { type Delivery, periodicTask } from "./open-delivery.ts";
import type { Storage } from "./open-storage.ts";
import { undoWith } from "./start-up.ts";

export interface Servers {
  health: HealthMonitor;
  /** Absent in a worker process, which serves only its probes and metrics. */
  grpc: GrpcServer | undefined;
  http: HttpServer;
  httpPort: number;
  grpcPort: number | undefined;
  /** The inbound SMTP server for bounces; absent when bounce.listen_port is 0. */
  bounce: BounceListener | undefined;
  bouncePort: number | undefined;
  /** Keeps gRPC's health service in step with readiness; started with the other periodic work. */
  tasks: PeriodicTask[];
}

/** Interfaces: health, gRPC and HTTP, listening (HTTP first) when this resolves. */
export async function openServers(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  storage: Storage,
  delivery: Delivery,
  version: string,
  tracing: Tracing,
): Promise<Servers> {
  const health = new HealthMonitor({
    version,
    checkQueue: () => delivery.queue.stats(),
    checkDatabase: () => storage.database.ping(),
    replicaState: () => storage.database.status().state,
    providers: () => delivery.providers.health(),
    providerErrorRates: () => delivery.providers.errorRates(),
    providerChecks: () => delivery.providerChecks.latest(),
    lastConsumerTick: consumes(config.server.role) ? () => delivery.pool.lastTick : undefined,
    consumerFailure: () => delivery.pool.consumerFailure,
    livenessThresholdMs:
      config.worker.liveness_timeout ||
      livenessThresholdMs(config.worker.process_timeout, config.queue.poll_interval),
    logger: logger.child({ component: "health" }),
  });
  const auth = new ApiKeyAuth(config.server.api_keys);
  const api = servesApi(config.server.role);
  const grpc = api ? createGrpcServer(config, logger, delivery, auth, health, tracing) : undefined;
  const operatorConsole =
    api && config.server.console.enabled
      ? await openConsole(config, logger, storage, delivery, auth, health)
      : undefined;
  const http = api
    ? createHttpServer(config, logger, metrics, storage, delivery, auth, health, operatorConsole, tracing)
    : new HttpServer({
        port: config.server.port,
        health,
        registry: metrics.registry,
        logger: logger.child({ component: "http" }),
      });
  await using undo = new AsyncDisposableStack();
  const httpPort = await http.start();
  undoWith(undo, () => http.stop());
  const grpcPort = grpc ? await grpc.start() : undefined;
  if (grpc) undoWith(undo, () => grpc.stop(5_000));
  const bounce = api ? createBounceListener(config, logger, metrics, storage) : undefined;
  const bouncePort = bounce ? await bounce.start() : undefined;
  undo.move();
  const tasks = grpc
    ? [
        // Reads the probes' shared check (refreshed at most once a second), so it costs no extra I/O.
        periodicTask(logger, "grpc-health", 1_000, async () => grpc.setServing((await health.ready()).ready)),
      ]
    : [];
  return { health, grpc, http, httpPort, grpcPort, bounce, bouncePort, tasks };
}

/** Bounces come back to return_path; they are recorded like the providers' webhook events. */
function createBounceListener(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  storage: Storage,
): BounceListener | undefined {
  if (config.bounce.listen_port === 0) return undefined;
  const { jobs, tracking, suppressions } = storage;
  const bounceLogger = logger.child({ component: "bounces" });
  const returnPath = new ReturnPath(config.email.providers.smtp.return_path);
  return new BounceListener({
    host: config.bounce.listen_host,
    port: config.bounce.listen_port,
    returnPath,
    maxMessageBytes: config.bounce.max_message_bytes,
    intake: new BounceIntake({
      returnPath,
      recorder: new EventRecorder({
        jobs,
        tracking,
        suppressions,
        logger: bounceLogger,
        onEvent: (event) => metrics.providerEvents.inc({ provider: event.provider, type: event.type }),
      }),
      kept: new UnattributedBounceRepository(storage.database),
      logger: bounceLogger,
      onOutcome: (outcome) => metrics.bouncesReceived.inc({ outcome }),
    }),
    logger: bounceLogger,
  });
}

function createGrpcServer(
  config: Config,
  logger: Logger,
  delivery: Delivery,
  auth: ApiKeyAuth,
  health: HealthMonitor,
  tracing: Tracing,
): GrpcServer {
  return new GrpcServer({
    port: config.server.grpc_port,
    handlers: emailWorkerHandlers({
      emails: delivery.service,
      campaigns: delivery.campaigns,
      providerChecks: delivery.providerChecks,
      templates: delivery.templates,
      auth,
      draining: () => health.draining,
      tracing,
      logger: logger.child({ component: "grpc" }),
    }),
    tls: config.server.tls_cert_file
      ? {
          certFile: config.server.tls_cert_file,
          keyFile: config.server.tls_key_file,
          clientCaFile: config.server.tls_client_ca_file || undefined,
        }
      : undefined,
    logger: logger.child({ component: "grpc" }),
  });
}

/** The operator console at /admin; its pages are the build's, read once now. */
async function openConsole(
  config: Config,
  logger: Logger,
  storage: Storage,
  delivery: Delivery,
  auth: ApiKeyAuth,
  health: HealthMonitor,
): Promise<ConsoleRoutes> {
  const consoleLogger = logger.child({ component: "console" });
  const assetsDir = defaultConsoleAssetsDir();
  const assets = await ConsoleAssets.load(assetsDir);
  if (!assets.built)
    consoleLogger.warn(
      { dir: assetsDir },
      "the console's files are not built (npm run console:build): /admin says so",
    );
  if (auth.enabled && !config.server.console.session_secret)
    consoleLogger.info(
      "server.console.session_secret is not set: console sign-ins last until this process restarts and work only on this replica",
    );
  return new ConsoleRoutes({
    auth,
    sessions: new ConsoleSessions({
      secret: config.server.console.session_secret,
      ttlMs: config.server.console.session_ttl,
    }),
    assets,
    handlers: new ConsoleHandlers({
      emails: delivery.service,
      templates: delivery.templates,
      campaigns: delivery.campaigns,
      health,
      throughput: storage.throughput,
    }),
    logger: consoleLogger,
  });
}

function createHttpServer(
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
