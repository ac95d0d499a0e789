import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import { consumes, loadConfig } from "../../internal/config/index.ts";
import { responseTo } from "../../internal/errors/error-responses.ts";
import { createLogger } from "../../internal/log/logger.ts";
import { createMetrics } from "../../internal/metrics/metrics.ts";
import { refreshQueueGauges } from "../../internal/metrics/queue-gauges.ts";
import { Tracing } from "../../internal/tracing/tracing.ts";
import { onShutdownSignal } from "../signals.ts";
import { openDelivery } from "./open-delivery.ts";
import { openServers } from "./open-servers.ts";
import { openStorage } from "./open-storage.ts";
import { undoWith } from "./start-up.ts";

/** The package's version: package.json two levels up from the sources, three from dist/. */
function packageVersion(): string {
  for (const path of ["../../package.json", "../../../package.json"]) {
    try {
      return (JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as { version: string })
        .version;
    } catch {
      // not at this level
    }
  }
  return "unknown";
}

async function main(): Promise<void> {
  const version = packageVersion();
  const config = loadConfig({ env: process.env });
  const tracing = await Tracing.fromEnv(process.env, { name: "email-worker", version });
  const logger = createLogger({
    ...config.logging,
    base: { version },
    ...(tracing.enabled && { context: () => tracing.logFields() }),
  });
  const metrics = createMetrics(new Registry());

  // When a part fails to open, the parts opened before it are closed again, newest first.
  await using undo = new AsyncDisposableStack();
  const storage = await openStorage(config, logger, metrics);
  undoWith(undo, storage.close);
  const delivery = await openDelivery(config, logger, metrics, storage, tracing);
  undoWith(undo, delivery.close);
  const servers = await openServers(config, logger, metrics, storage, delivery, version, tracing);
  undo.move();

  const { pool, providers } = delivery;
  const { health, grpc, http } = servers;
  const tasks = [...delivery.tasks, ...servers.tasks];
  // An `api` process takes emails and runs the periodic duties; it consumes nothing.
  if (consumes(config.server.role)) pool.start();
  for (const task of tasks) task.start();
  void refreshQueueGauges(metrics, delivery.queue).catch(() => {});
  // In the background: a provider that fails its check is reported, and the others serve meanwhile.
  void delivery.providerChecks.run();
  // Listening for signals before saying it started: a signal arriving between the two would
  // otherwise kill the process outright (no handler yet), without draining.
  const stopping = onShutdownSignal(() => logger.warn("second signal: exiting without draining"));
  logger.info(
    {
      queue_driver: config.queue.driver,
      default_provider: config.email.default_provider,
      providers: providers.names,
      role: config.server.role,
      http_port: servers.httpPort,
      grpc_port: servers.grpcPort ?? null,
      bounce_port: servers.bouncePort,
      workers: consumes(config.server.role) ? config.worker.worker_count : 0,
    },
    "email-worker started",
  );

  const signal = await stopping;
  logger.info({ signal }, "shutting down");
  // Readiness fails and intake refuses new jobs at once; the probes stay up while in-flight sends
  // drain, and the HTTP server closes last.
  health.startDraining();
  grpc?.setServing(false);
  await pool.stop(config.worker.shutdown_timeout);
  await Promise.all(tasks.map((task) => task.stop()));
  await providers.close();
  await grpc?.stop(5_000);
  await servers.bounce?.stop();
  await delivery.renderPool.stop();
  await delivery.closeQueue();
  await http.stop();
  await storage.close();
  await tracing.shutdown();
  logger.info("stopped");
  logger.flush();
}

main().catch((error: unknown) => {
  // Start-up failures an operator fixes in configuration or infrastructure get their message alone.
  const { selfExplanatory } = responseTo(error);
  console.error(
    `email-worker: ${selfExplanatory ? (error as Error).message : error instanceof Error ? error.stack : error}`,
  );
  process.exit(1);
});
