import type { Config } from "../../internal/config/index.ts";
import type { Logger } from "../../internal/log/logger.ts";
import type { ApiKeyAuth } from "../../internal/server/auth/api-key-auth.ts";
import { emailWorkerHandlers } from "../../internal/server/grpc/email-worker-handlers.ts";
import { GrpcServer } from "../../internal/server/grpc/grpc-server.ts";
import type { HealthMonitor } from "../../internal/server/http/health-monitor.ts";
import type { Tracing } from "../../internal/tracing/tracing.ts";
import type { Delivery } from "./open-delivery.ts";

/** The gRPC API; imported only by the roles that serve it (gRPC and protobuf are most of its weight). */
export function createGrpcServer(
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
