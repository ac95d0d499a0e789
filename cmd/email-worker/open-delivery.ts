import { CampaignDispatcher } from "../../internal/campaign/campaign-dispatcher.ts";
import { CampaignService } from "../../internal/campaign/campaign-service.ts";
import { CAMPAIGN_STATUS_MAX_AGE_MS, CampaignStates } from "../../internal/campaign/campaign-states.ts";
import { type Config, consumes, servesApi } from "../../internal/config/index.ts";
import type { Logger } from "../../internal/log/logger.ts";
import { refreshCampaignGauges } from "../../internal/metrics/campaign-gauges.ts";
import { circuitStateValue } from "../../internal/metrics/delivery-gauges.ts";
import { LabelLimiter } from "../../internal/metrics/label-limiter.ts";
import type { Metrics } from "../../internal/metrics/metrics.ts";
import { refreshQueueGauges } from "../../internal/metrics/queue-gauges.ts";
import { ThroughputSampler } from "../../internal/metrics/throughput-sampler.ts";
import { createProviderGates, createProviders } from "../../internal/provider/create-providers.ts";
import { openDkimSigner } from "../../internal/provider/dkim/open-dkim-signer.ts";
import { gateTimings } from "../../internal/provider/gate-timings.ts";
import { InstrumentedProvider } from "../../internal/provider/instrumented-provider.ts";
import type { OutgoingEmail } from "../../internal/provider/provider.ts";
import { ProviderChecks } from "../../internal/provider/provider-checks.ts";
import { ProviderRouter } from "../../internal/provider/provider-router.ts";
import { type OpenedQueue, openQueue } from "../../internal/queue/open-queue.ts";
import { queueKeys, usesHashTags } from "../../internal/queue/redis/queue-keys.ts";
import { EmailService } from "../../internal/service/email-service.ts";
import { intakeCheck } from "../../internal/service/intake-check.ts";
import { recordQueued } from "../../internal/service/queued-metrics.ts";
import { TemplateService } from "../../internal/service/template-service.ts";
import { CachedTemplateSource } from "../../internal/template/cached-template-source.ts";
import { RenderPool } from "../../internal/template/render-pool.ts";
import { TemplateRenderer } from "../../internal/template/renderer.ts";
import type { Tracing } from "../../internal/tracing/tracing.ts";
import { EmailInstrumenter } from "../../internal/tracking/email-instrumenter.ts";
import { LinkTokens } from "../../internal/tracking/link-tokens.ts";
import { BulkThrottle } from "../../internal/worker/bulk-throttle.ts";
import { JobProcessor } from "../../internal/worker/job-processor.ts";
import { recordOutcome } from "../../internal/worker/outcome-metrics.ts";
import { PeriodicTask } from "../../internal/worker/periodic-task.ts";
import { Reconciler } from "../../internal/worker/reconciler.ts";
import { RetryPolicy } from "../../internal/worker/retry-policy.ts";
import { WorkerPool } from "../../internal/worker/worker-pool.ts";
import type { Storage } from "./open-storage.ts";
import { undoWith } from "./start-up.ts";

export interface Delivery {
  queue: OpenedQueue["queue"];
  /** Closes the queue and its connections. */
  closeQueue(): Promise<void>;
  providers: ProviderRouter;
  /** Each provider's self-check: run once started, shown in /health and by emailctl providers verify. */
  providerChecks: ProviderChecks;
  templateCache: CachedTemplateSource;
  renderer: TemplateRenderer;
  /** The threads the renderer compiles and renders on; stopped after the worker pool. */
  renderPool: RenderPool;
  service: EmailService;
  templates: TemplateService;
  campaigns: CampaignService;
  /** Signs tracking links; absent without tracking.secret. */
  tokens: LinkTokens | undefined;
  pool: WorkerPool;
  /** Periodic work, safe on every replica at once; started with the pool. */
  tasks: PeriodicTask[];
  /** Closes what opened, before anything started: the providers, then the queue. */
  close(): Promise<void>;
}

/** Long enough for a slow relay's greeting, STARTTLS and AUTH; a check never holds up sending. */
const PROVIDER_CHECK_TIMEOUT_MS = 15_000;

/** How often each replica adds its finished deliveries to the fleet's throughput history. */
const THROUGHPUT_SAMPLE_INTERVAL_MS = 10_000;

/** The throughput history keeps a day; pruning it hourly keeps at most an hour more. */
const THROUGHPUT_PRUNE_INTERVAL_MS = 3_600_000;

/**
 * A periodic task that runs once more as it stops. Tasks stop after the worker pool has drained and
 * before the database closes, so that last run sees every delivery the pool finished.
 */
class PeriodicTaskWithFinalRun extends PeriodicTask {
  override async stop(): Promise<void> {
    await super.stop();
    await this.runOnce();
  }
}

/** A periodic task logged as maintenance; `finalRun`: it runs once more when stopped. */
export function periodicTask(
  logger: Logger,
  name: string,
  intervalMs: number,
  run: () => Promise<unknown>,
  { finalRun = false }: { finalRun?: boolean } = {},
): PeriodicTask {
  const options = { name, intervalMs, run, logger: logger.child({ component: "maintenance" }) };
  return finalRun ? new PeriodicTaskWithFinalRun(options) : new PeriodicTask(options);
}

/** Delivery: queue, providers, rendering, the processor and its pool, and the periodic work. */
export async function openDelivery(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  storage: Storage,
  tracing: Tracing,
): Promise<Delivery> {
  await using undo = new AsyncDisposableStack();
  const queueLogger = logger.child({ component: "queue" });
  const opened = await openQueue(config, storage.database, queueLogger, {
    metrics,
    // Tracked jobs waiting in the lost streams are published again by the reconciler.
    onDataLost: (detectedAt) =>
      void storage.jobs.forgetEnqueued(detectedAt).then(
        (count) =>
          queueLogger.warn({ tracked_jobs: count }, "tracked jobs to publish again after the queue's loss"),
        (error: unknown) =>
          queueLogger.error({ err: error }, "could not mark tracked jobs for publishing again"),
      ),
  });
  undoWith(undo, opened.close);
  const providers = await openProviders(config, logger, metrics, opened);
  undoWith(undo, () => providers.close());
  const templateCache = new CachedTemplateSource({
    load: (id) => storage.templates.get(id),
    ttlMs: config.email.template_cache_ttl,
  });
  const renderPool = new RenderPool({
    threads: config.email.template_render_threads,
    timeoutMs: config.email.template_render_timeout,
  });
  // Its thread starts on the first template that needs one: content that only fills in values never does.
  undoWith(undo, () => renderPool.stop());
  const maxTemplateBytes = config.email.template_max_bytes;
  const renderer = new TemplateRenderer({ source: templateCache, pool: renderPool, maxTemplateBytes });
  // Job types are the clients' own strings: one limiter bounds them on every metric.
  const jobTypes = new LabelLimiter({
    always: config.server.metrics_job_types,
    max: config.server.metrics_max_job_types,
  });
  const service = new EmailService({
    ...(tracing.enabled && { trace: () => tracing.carrier() }),
    queue: opened.queue,
    jobs: storage.jobs,
    tracking: storage.tracking,
    idempotency: opened.idempotency,
    suppressions: storage.suppressions,
    defaultMaxRetries: config.worker.max_retries,
    maxTemplateBytes,
    check: intakeCheck(renderer, providers.names),
    logger: logger.child({ component: "service" }),
    onQueued: (job) => recordQueued(metrics, jobTypes, job),
  });
  const templates = new TemplateService({
    templates: storage.templates,
    renderer,
    invalidate: (id) => templateCache.invalidate(id),
  });
  const dispatcher = new CampaignDispatcher({
    campaigns: storage.campaigns,
    schedules: storage.campaignSchedules,
    jobs: storage.jobs,
    queue: opened.queue,
    laneDepth: config.campaigns.lane_depth,
    sliceSize: config.campaigns.slice_size,
    logger: logger.child({ component: "campaigns" }),
    onStarted: (campaign) =>
      metrics.campaignStartLateness.observe(
        { type: jobTypes.label(campaign.job_type) },
        campaign.late_ms / 1000,
      ),
    onDispatched: (campaign, count) =>
      metrics.campaignDispatched.inc({ type: jobTypes.label(campaign.job_type) }, count),
  });
  const campaigns = new CampaignService({
    campaigns: storage.campaigns,
    schedules: storage.campaignSchedules,
    templates,
    providers: providers.names,
    dispatcher,
    uploadBatchSize: config.campaigns.upload_batch_size,
    logger: logger.child({ component: "campaigns" }),
    onUploaded: (campaign, counts) => {
      const type = jobTypes.label(campaign.job_type);
      for (const [outcome, count] of Object.entries(counts))
        if (count > 0) metrics.campaignRecipientsUploaded.inc({ type, outcome }, count);
    },
  });
  // Tracking links: signed with tracking.secret, pointing at tracking.base_url.
  const tokens = config.tracking.secret
    ? new LinkTokens(config.tracking.secret, { ttlMs: config.tracking.link_ttl })
    : undefined;
  const processor = createProcessor(
    config,
    logger,
    metrics,
    jobTypes,
    storage,
    opened,
    providers,
    renderer,
    tokens,
    tracing,
  );
  const bulkThrottle =
    config.worker.bulk_share < 1
      ? new BulkThrottle({ concurrency: config.worker.worker_count, share: config.worker.bulk_share })
      : undefined;
  const pool = new WorkerPool({
    queue: opened.queue,
    handler: processor,
    concurrency: config.worker.worker_count,
    batchSize: config.worker.batch_size,
    jobTimeoutMs: config.worker.process_timeout,
    logger: logger.child({ component: "worker-pool" }),
    onConsumerStateChange: (up) => metrics.consumerUp.set(up ? 1 : 0),
    bulkThrottle,
  });
  metrics.consumerUp.set(1);
  metrics.bulkSlots.set(config.worker.worker_count);
  const tasks = [
    ...periodicWork(config, logger, metrics, storage, opened),
    ...(bulkThrottle && consumes(config.server.role)
      ? [bulkThrottleTask(logger, metrics, bulkThrottle)]
      : []),
    ...(servesApi(config.server.role)
      ? [
          periodicTask(logger, "campaign-dispatch", config.campaigns.dispatch_interval, () =>
            dispatcher.dispatch(),
          ),
          periodicTask(logger, "campaign-gauges", 5_000, () =>
            refreshCampaignGauges(metrics, storage.campaigns, jobTypes),
          ),
        ]
      : []),
  ];
  const providerChecks = new ProviderChecks({
    providers: providers.providers,
    timeoutMs: PROVIDER_CHECK_TIMEOUT_MS,
    logger: logger.child({ component: "providers" }),
  });
  const closeOpened = undo.move();
  return {
    queue: opened.queue,
    closeQueue: opened.close,
    providers,
    providerChecks,
    templateCache,
    renderer,
    renderPool,
    service,
    templates,
    campaigns,
    tokens,
    pool,
    tasks,
    close: () => closeOpened.disposeAsync(),
  };
}

/** Every enabled provider behind its metrics, its circuit breaker and its rate and concurrency gate. */
async function openProviders(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  opened: OpenedQueue,
): Promise<ProviderRouter> {
  const { maxWaitMs, leaseMs } = gateTimings(config.worker.process_timeout);
  // A bad DKIM key stops start-up here, naming its domain and selector.
  const dkim = openDkimSigner(config.email.dkim, logger);
  const providers = new ProviderRouter({
    providers: new Map(
      [...(await createProviders(config.email, dkim))].map(([name, p]) => [
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
    gates: createProviderGates(
      config.email,
      opened.redis,
      queueKeys(config.queue.queue_name, usesHashTags(config.queue.redis)).ratePrefix,
      maxWaitMs,
      leaseMs,
    ),
    onBreakerStateChange: (provider, state) => {
      metrics.circuitState.set({ provider }, circuitStateValue(state));
      logger.warn({ provider, state }, "provider circuit changed");
    },
  });
  for (const name of providers.names)
    metrics.circuitState.set({ provider: name }, circuitStateValue("closed"));
  return providers;
}

function createProcessor(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  jobTypes: LabelLimiter,
  storage: Storage,
  opened: OpenedQueue,
  router: ProviderRouter,
  renderer: TemplateRenderer,
  tokens: LinkTokens | undefined,
  tracing: Tracing,
): JobProcessor {
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
  return new JobProcessor({
    queue: opened.queue,
    queueName: config.queue.queue_name,
    jobs: storage.jobs,
    tracking: storage.tracking,
    idempotency: opened.idempotency,
    campaigns: new CampaignStates({
      read: (id) => storage.campaignOutcomes.status(id),
      maxAgeMs: CAMPAIGN_STATUS_MAX_AGE_MS,
    }),
    campaignOutcomes: storage.campaignOutcomes,
    suppressions: storage.suppressions,
    suppressionFailOpen: config.email.suppression_fail_open,
    renderer,
    ...(instrumenter && { instrument: (email: OutgoingEmail) => instrumenter.instrument(email) }),
    router,
    retryPolicy: new RetryPolicy({
      baseDelayMs: config.worker.retry_delay,
      factor: config.worker.retry_factor,
      maxDelayMs: config.worker.retry_max_delay,
      jitter: config.worker.retry_jitter,
    }),
    defaultMaxRetries: config.worker.max_retries,
    claimLeaseMs: config.queue.visibility_timeout,
    logger: logger.child({ component: "worker" }),
    onOutcome: (outcome) => recordOutcome(metrics, jobTypes, outcome),
    ...(tracing.enabled && { tracing }),
  });
}

/** Reports how many slots low-priority jobs may work in now (fewer while transactional mail flows). */
function bulkThrottleTask(logger: Logger, metrics: Metrics, throttle: BulkThrottle): PeriodicTask {
  return periodicTask(logger, "bulk-slots", 5_000, async () =>
    metrics.bulkSlots.set(throttle.limit(Date.now())),
  );
}

/** Periodic work, safe on every replica at once. */
function periodicWork(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  storage: Storage,
  { queue, idempotency }: OpenedQueue,
): PeriodicTask[] {
  const reconciler = new Reconciler({
    jobs: storage.jobs,
    queue,
    graceMs: config.worker.reconcile_grace,
    logger: logger.child({ component: "reconciler" }),
  });
  const throughput = new ThroughputSampler({
    counter: metrics.jobsProcessed,
    repository: storage.throughput,
    logger: logger.child({ component: "throughput" }),
  });
  // Every role promotes due messages (retries must come due where only workers run, and where the
  // workers were scaled to nothing) and reports the queue. Reconciling tracked jobs, cleaning up keys
  // and feeding campaigns are the API's duties: they publish, so they must run while the workers are
  // scaled to zero, or nothing would ever wake them.
  const apiDuties = servesApi(config.server.role);
  return [
    periodicTask(logger, "promote", config.queue.promote_interval, () => queue.promoteDue()),
    ...(apiDuties
      ? [
          periodicTask(logger, "reconcile", config.worker.reconcile_interval, () => reconciler.reconcile()),
          periodicTask(logger, "cleanup", config.worker.cleanup_interval, () => idempotency.cleanup()),
        ]
      : []),
    periodicTask(logger, "queue-gauges", 5_000, () => refreshQueueGauges(metrics, queue)),
    // Workers check every recipient against the suppression list's filter, which this keeps current.
    ...(consumes(config.server.role)
      ? [
          periodicTask(
            logger,
            "suppression-filter",
            Math.max(config.email.suppression_cache_ttl, 1_000),
            () => storage.suppressions.refresh(),
          ),
        ]
      : []),
    // Its last run at shutdown adds what was finished since the one before.
    periodicTask(logger, "throughput-history", THROUGHPUT_SAMPLE_INTERVAL_MS, () => throughput.sample(), {
      finalRun: true,
    }),
    ...(apiDuties
      ? [periodicTask(logger, "throughput-prune", THROUGHPUT_PRUNE_INTERVAL_MS, () => throughput.prune())]
      : []),
  ];
}
