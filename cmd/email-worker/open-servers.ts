import type { BounceListener } from "../../internal/bounce/bounce-listener.ts";
import { type Config, consumes, servesApi } from "../../internal/config/index.ts";
import type { Logger } from "../../internal/log/logger.ts";
import type { Metrics } from "../../internal/metrics/metrics.ts";
import { ApiKeyAuth } from "../../internal/server/auth/api-key-auth.ts";
import type { GrpcServer } from "../../internal/server/grpc/grpc-server.ts";
import { HealthMonitor } from "../../internal/server/http/health-monitor.ts";
import { HttpListener } from "../../internal/server/http/http-listener.ts";
import { ProbeRoutes } from "../../internal/server/http/probe-routes.ts";
import type { Tracing } from "../../internal/tracing/tracing.ts";
import { livenessThresholdMs } from "../../internal/worker/liveness.ts";
import type { PeriodicTask } from "../../internal/worker/periodic-task.ts";
import { type Delivery, periodicTask } from "./open-delivery.ts";
import type { Storage } from "./open-storage.ts";
import { undoWith } from "./start-up.ts";

export interface Servers {
  health: HealthMonitor;
  /** Absent in a worker process, which serves only its probes and metrics. */
  grpc: GrpcServer | undefined;
  http: HttpListener;
  httpPort: number;
  grpcPort: number | undefined;
  /** The inbound SMTP server for bounces; absent when bounce.listen_port is 0. */
  bounce: BounceListener | undefined;
  bouncePort: number | undefined;
  /** Keeps gRPC's health service in step with readiness; started with the other periodic work. */
  tasks: PeriodicTask[];
}

interface ApiServers {
  grpc: GrpcServer;
  http: HttpListener;
}

/**
 * Interfaces: health, gRPC and HTTP, listening (HTTP first) when this resolves. What only some
 * processes serve (gRPC, the HTTP API, the console, the bounce listener) is imported when it is
 * opened: a worker process then never loads those modules and their libraries, which would otherwise
 * stay resident for nothing.
 */
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
  const api = servesApi(config.server.role)
    ? await openApi(config, logger, metrics, storage, delivery, health, tracing)
    : undefined;
  const http =
    api?.http ??
    new HttpListener({
      port: config.server.port,
      routes: [new ProbeRoutes({ health, registry: metrics.registry })],
      logger: logger.child({ component: "http" }),
    });
  const grpc = api?.grpc;
  await using undo = new AsyncDisposableStack();
  const httpPort = await http.start();
  undoWith(undo, () => http.stop());
  const grpcPort = grpc ? await grpc.start() : undefined;
  if (grpc) undoWith(undo, () => grpc.stop(5_000));
  const bounce =
    api && config.bounce.listen_port !== 0
      ? (await import("./open-bounce.ts")).createBounceListener(config, logger, metrics, storage)
      : undefined;
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

/** The API's servers, not yet listening: gRPC, and HTTP with the intake, webhooks and the console. */
async function openApi(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  storage: Storage,
  delivery: Delivery,
  health: HealthMonitor,
  tracing: Tracing,
): Promise<ApiServers> {
  const auth = new ApiKeyAuth(config.server.api_keys);
  const { createGrpcServer } = await import("./open-grpc.ts");
  const grpc = createGrpcServer(config, logger, delivery, auth, health, tracing);
  const operatorConsole = config.server.console.enabled
    ? await (await import("./open-console.ts")).openConsole(config, logger, storage, delivery, auth, health)
    : undefined;
  const { createHttpServer } = await import("./open-http-api.ts");
  const http = createHttpServer(
    config,
    logger,
    metrics,
    storage,
    delivery,
    auth,
    health,
    operatorConsole,
    tracing,
  );
  return { grpc, http };
}
