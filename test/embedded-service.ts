import type { Provider } from "../internal/provider/provider.ts";
import { type MemoryQueue, MemoryQueueState } from "../internal/queue/memory/memory-queue.ts";
import { EmailService } from "../internal/service/email-service.ts";
import type { RenderPool } from "../internal/template/render-pool.ts";
import { TemplateRenderer } from "../internal/template/renderer.ts";
import { JobProcessor } from "../internal/worker/job-processor.ts";
import { RetryPolicy } from "../internal/worker/retry-policy.ts";
import { type EmbeddedStore, openEmbeddedStore } from "./embedded-store.ts";
import { singleProviderRouter } from "./providers.ts";
import { silentLogger } from "./store.ts";
import { createTemplate } from "./store-queries.ts";

type MemoryQueueOptions = ConstructorParameters<typeof MemoryQueue>[0];
type EmailServiceOptions = ConstructorParameters<typeof EmailService>[0];
type JobProcessorOptions = ConstructorParameters<typeof JobProcessor>[0];

/** A memory queue's settings with a state of its own: 60 s visibility, 10 ms polls, no fair share. */
export function memoryQueueOptions(overrides: Partial<MemoryQueueOptions> = {}): MemoryQueueOptions {
  return {
    state: new MemoryQueueState(),
    visibilityTimeoutMs: 60_000,
    pollIntervalMs: 10,
    fairShare: 0,
    ...overrides,
  };
}

/** The embedded store with `welcome_template` ("Welcome {{.user_name}}", HTML only) in it. */
export async function openStoreWithWelcomeTemplate(): Promise<EmbeddedStore> {
  const store = await openEmbeddedStore();
  try {
    await createTemplate(store.router, {
      id: "welcome_template",
      name: "Welcome",
      subject: "Welcome {{.user_name}}",
      html_template: "<p>Hello {{.user_name}}</p>",
      variables: ["user_name"],
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** A job to `to` from welcome_template for Ada ("Welcome Ada"), with `fields` over it. */
export const welcomeJob = (to: string, fields: Record<string, unknown> = {}) => ({
  type: "welcome_email",
  recipient_email: to,
  template_id: "welcome_template",
  template_data: { user_name: "Ada" },
  ...fields,
});

/** An EmailService on the embedded store's repositories and `queue`: 3 retries unless overridden. */
export function embeddedEmailService(
  store: EmbeddedStore,
  queue: EmailServiceOptions["queue"],
  overrides: Partial<EmailServiceOptions> = {},
): EmailService {
  return new EmailService({
    queue,
    jobs: store.jobs,
    tracking: store.tracking,
    idempotency: store.idempotency,
    suppressions: store.suppressions,
    defaultMaxRetries: 3,
    logger: silentLogger,
    ...overrides,
  });
}

/**
 * A JobProcessor on the embedded store's repositories and `queue`, rendering its templates on
 * `renderPool` and sending through `provider` alone: suppression fails open, retries a minute apart
 * doubling without jitter, 60 s claims, 3 retries, unless overridden.
 */
export function embeddedJobProcessor(
  parts: {
    store: EmbeddedStore;
    queue: JobProcessorOptions["queue"];
    provider: Provider;
    renderPool: RenderPool;
  },
  overrides: Partial<JobProcessorOptions> = {},
): JobProcessor {
  const { store, queue, provider, renderPool } = parts;
  return new JobProcessor({
    queue,
    queueName: "unit",
    jobs: store.jobs,
    tracking: store.tracking,
    idempotency: store.idempotency,
    campaigns: store.campaignOutcomes,
    campaignOutcomes: store.campaignOutcomes,
    suppressions: store.suppressions,
    suppressionFailOpen: true,
    renderer: new TemplateRenderer({
      source: { get: (id) => store.templates.get(id) },
      pool: renderPool,
      maxTemplateBytes: 512 * 1024,
    }),
    router: singleProviderRouter(provider),
    retryPolicy: new RetryPolicy({ baseDelayMs: 60_000, factor: 2, maxDelayMs: 600_000, jitter: 0 }),
    defaultMaxRetries: 3,
    claimLeaseMs: 60_000,
    logger: silentLogger,
    ...overrides,
  });
}
