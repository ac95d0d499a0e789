import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import { ConfigError, databaseTargets, loadConfig } from "../../internal/config/index.ts";
import { laneOf } from "../../internal/job/priority.ts";
import { createLogger } from "../../internal/log/logger.ts";
import { createMetrics } from "../../internal/metrics/metrics.ts";
import { refreshQueueGauges } from "../../internal/metrics/queue-gauges.ts";
import { createProviderGates, createProviders } from "../../internal/provider/create-providers.ts";
import { InstrumentedProvider } from "../../internal/provider/instrumented-provider.ts";
import type { OutgoingEmail } from "../../internal/provider/provider.ts";
import { ProviderRouter } from "../../internal/provider/provider-router.ts";
import { openQueue } from "../../internal/queue/open-queue.ts";
import { ApiKeyAuth } from "../../internal/server/auth/api-key-auth.ts";
import { emailWorkerHandlers } from "../../internal/server/grpc/email-worker-handlers.ts";
import { GrpcServer } from "../../internal/server/grpc/grpc-server.ts";
import { HealthMonitor } from "../../internal/server/http/health-monitor.ts";
import { HttpServer } from "../../internal/server/http/http-server.ts";
import { EmailService } from "../../internal/service/email-service.ts";
import { TemplateService } from "../../internal/service/template-service.ts";
import { CachedSuppressionList } from "../../internal/store/cached-suppression-list.ts";
import { JobRepository } from "../../internal/store/job-repository.ts";
import { migrateToLatest } from "../../internal/store/migrator.ts";
import { openDatabase } from "../../internal/store/open-database.ts";
import { ensureSampleTemplates } from "../../internal/store/sample-templates.ts";
import { SuppressionRepository } from "../../internal/store/suppression-repository.ts";
import { TemplateRepository } from "../../internal/store/template-repository.ts";
import { TrackingRepository } from "../../internal/store/tracking-repository.ts";
import { CachedTemplateSource } from "../../internal/template/cached-template-source.ts";
import { TemplateRenderer } from "../../internal/template/renderer.ts";
import { EmailInstrumenter } from "../../internal/tracking/email-instrumenter.ts";
import { EventRecorder } from "../../internal/tracking/event-recorder.ts";
import { LinkEvents } from "../../internal/tracking/link-events.ts";
import { LinkTokens } from "../../internal/tracking/link-tokens.ts";
import { SnsVerifier } from "../../internal/tracking/sns-verifier.ts";
import { JobProcessor } from "../../internal/worker/job-processor.ts";
import { recordOutcome } from "../../internal/worker/outcome-metrics.ts";
import { PeriodicTask } from "../../internal/worker/periodic-task.ts";
import { Reconciler } from "../../internal/worker/reconciler.ts";
import { RetryPolicy } from "../../internal/worker/retry-policy.ts";
import { WorkerPool } from "../../internal/worker/worker-pool.ts";
import { onShutdownSignal } from "../signals.ts";

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

const VERSION = packageVersion();

async function main(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const logger = createLogger({ ...config.logging, base: { version: VERSION } });
  const metrics = createMetrics(new Registry());

  // Storage: master/replica (or embedded), schema, repositories.
  const opened = await openDatabase({
    targets: databaseTargets(config.database),
    settings: config.database,
    logger: logger.child({ component: "database" }),
    onReplicaStateChange: (state) => metrics.replicaUp.set(state === "up" ? 1 : 0),
  });
  const database = opened.router;
  if (database.status().state === "up") metrics.replicaUp.set(1);
  logger.info({ database: opened.description }, "database connected");
  if (config.database.auto_migrate) {
    const applied = await migrateToLatest(database.master);
    logger.info({ applied: applied.map((m) => m.migrationName) }, "schema up to date");
  }
  const jobs = new JobRepository(database);
  const templates = new TemplateRepository(database);
  const tracking = new TrackingRepository(database);
  const suppressions = new CachedSuppressionList(new SuppressionRepository(database), {
    ttlMs: config.email.suppression_cache_ttl,
    max: config.email.suppression_cache_size,
  });
  if (opened.embedded) {
    const added = await ensureSampleTemplates(templates);
    if (added.length > 0) logger.info({ templates: added }, "sample templates added");
  }

  // Delivery: queue, providers, rendering, the processor and its pool.
  const {
    queue,
    idempotency,
    redis,
    close: closeQueue,
  } = await openQueue(config, database, logger.child({ component: "queue" }));
  const providers = new ProviderRouter({
    providers: new Map(
      [...(await createProviders(config.email))].map(([name, p]) => [
        name,
        new InstrumentedProvider(p, metrics),
      ]),
    ),
    routes: config.email.routes,
    defaultProvider: config.email.default_provider,
    fallbackProviders: config.email.fallback_providers,
    breaker: {
      failureThreshold: config.email.circuit_breaker.failure_threshold,
      halfOpenAfterMs: config.email.circuit_breaker.half_open_after,
    },
    // Waiting for a provider's turn uses the job's time: at most half of it, and never over 5 s.
    gates: createProviderGates(
      config.email,
      redis,
      `${config.queue.queue_name}:rate`,
      Math.min(5_000, config.worker.process_timeout / 2),
      config.worker.process_timeout + 5_000,
    ),
    onBreakerStateChange: (provider, state) => {
      metrics.circuitState.set({ provider }, state === "closed" ? 0 : state === "half-open" ? 1 : 2);
      logger.warn({ provider, state }, "provider circuit changed");
    },
  });
  for (const name of providers.names) metrics.circuitState.set({ provider: name }, 0);
  const templateCache = new CachedTemplateSource({
    load: (id) => templates.get(id),
    ttlMs: config.email.template_cache_ttl,
  });
  const renderer = new TemplateRenderer({ source: templateCache });
  const service = new EmailService({
    queue,
    jobs,
    tracking,
    idempotency,
    suppressions,
    defaultMaxRetries: config.worker.max_retries,
    logger: logger.child({ component: "service" }),
    onQueued: (job) => {
      metrics.jobsQueued.inc({ priority: laneOf(job.priority), tracked: String(job.tracked) });
      if (job.tracked) metrics.jobsTracked.inc({ job_type: job.type });
    },
  });
  // Tracking links: signed with tracking.secret, pointing at tracking.base_url.
  const tokens = config.tracking.secret ? new LinkTokens(config.tracking.secret) : undefined;
  const instrumenter =
    tokens && config.tracking.base_url
      ? new EmailInstrumenter({
          tokens,
          baseUrl: config.tracking.base_url,
          openTracking: config.tracking.open_tracking,
          clickTracking: config.tracking.click_tracking,
          unsubscribe: config.tracking.unsubscribe,
        })
      : undefined;
  const processor = new JobProcessor({
    queue,
    queueName: config.queue.queue_name,
    jobs,
    tracking,
    idempotency,
    suppressions,
    renderer,
    ...(instrumenter && { instrument: (email: OutgoingEmail) => instrumenter.instrument(email) }),
    router: providers,
    retryPolicy: new RetryPolicy({
      baseDelayMs: config.worker.retry_delay,
      factor: config.worker.retry_factor,
      maxDelayMs: config.worker.retry_max_delay,
      jitter: config.worker.retry_jitter,
    }),
    defaultMaxRetries: config.worker.max_retries,
    claimLeaseMs: config.queue.visibility_timeout,
    logger: logger.child({ component: "worker" }),
    onOutcome: (outcome) => recordOutcome(metrics, outcome),
  });
  const pool = new WorkerPool({
    queue,
    handler: processor,
    concurrency: config.worker.worker_count,
    batchSize: config.worker.batch_size,
    jobTimeoutMs: config.worker.process_timeout,
    logger: logger.child({ component: "worker-pool" }),
  });

  // Periodic work, safe on every replica at once.
  const reconciler = new Reconciler({
    jobs,
    queue,
    graceMs: config.worker.reconcile_grace,
    logger: logger.child({ component: "reconciler" }),
  });
  const maintenance = logger.child({ component: "maintenance" });
  const every = (name: string, intervalMs: number, run: () => Promise<unknown>) =>
    new PeriodicTask({ name, intervalMs, run, logger: maintenance });
  const tasks = [
    every("promote", config.queue.promote_interval, () => queue.promoteDue()),
    every("reconcile", config.worker.reconcile_interval, () => reconciler.reconcile()),
    every("cleanup", config.worker.cleanup_interval, () => idempotency.cleanup()),
    every("queue-gauges", 5_000, () => refreshQueueGauges(metrics, queue)),
  ];

  // Interfaces.
  const health = new HealthMonitor({
    version: VERSION,
    checkQueue: () => queue.stats(),
    checkDatabase: () => database.ping(),
    replicaState: () => database.status().state,
    providers: () => providers.health(),
    providerErrorRates: () => providers.errorRates(),
    lastConsumerTick: () => pool.lastTick,
    // The loop waits at most a poll interval for messages, or a job's time limit for a free slot.
    livenessThresholdMs: 2 * (config.worker.process_timeout + config.queue.poll_interval),
  });
  const auth = new ApiKeyAuth(config.server.api_keys);
  const grpc = new GrpcServer({
    port: config.server.grpc_port,
    handlers: emailWorkerHandlers({
      emails: service,
      templates: new TemplateService({
        templates,
        renderer,
        invalidate: (id) => templateCache.invalidate(id),
      }),
      auth,
      draining: () => health.draining,
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
  tasks.push(every("grpc-health", 5_000, async () => grpc.setServing((await health.ready()).ready)));
  const http = new HttpServer({
    port: config.server.port,
    service,
    auth,
    health,
    registry: metrics.registry,
    ...(tokens && {
      links: {
        tokens,
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
        providers.names.includes("ses") || config.tracking.ses_topic_arns.length > 0
          ? new SnsVerifier({
              certificateHost: new RegExp(config.tracking.sns_certificate_host),
              maxAgeMs: config.tracking.webhook_max_age,
            })
          : undefined,
      sesTopicArns: config.tracking.ses_topic_arns,
      maxAgeMs: config.tracking.webhook_max_age,
    },
    logger: logger.child({ component: "http" }),
  });

  const httpPort = await http.start();
  const grpcPort = await grpc.start();
  pool.start();
  for (const task of tasks) task.start();
  void refreshQueueGauges(metrics, queue).catch(() => {});
  logger.info(
    {
      queue_driver: config.queue.driver,
      default_provider: config.email.default_provider,
      providers: providers.names,
      http_port: httpPort,
      grpc_port: grpcPort,
      workers: config.worker.worker_count,
    },
    "email-worker started",
  );

  const signal = await onShutdownSignal(() => logger.warn("second signal: exiting without draining"));
  logger.info({ signal }, "shutting down");
  // Readiness fails and intake refuses new jobs at once; the probes stay up while in-flight sends
  // drain, and the HTTP server closes last.
  health.startDraining();
  grpc.setServing(false);
  await pool.stop(config.worker.shutdown_timeout);
  await Promise.all(tasks.map((task) => task.stop()));
  await providers.close();
  await grpc.stop(5_000);
  await closeQueue();
  await http.stop();
  await database.destroy();
  logger.info("stopped");
  logger.flush();
}

main().catch((error: unknown) => {
  // Start-up failures an operator fixes in configuration or infrastructure get their message alone.
  const kind = (error as { kind?: string }).kind;
  const expected = error instanceof ConfigError || kind === "unavailable" || kind === "migration";
  console.error(
    `email-worker: ${expected ? (error as Error).message : error instanceof Error ? error.stack : error}`,
  );
  process.exit(1);
});
