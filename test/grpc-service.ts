import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { CampaignDispatcher } from "../internal/campaign/campaign-dispatcher.ts";
import { CampaignService } from "../internal/campaign/campaign-service.ts";
import { EmailWorkerClient } from "../internal/client/email-worker-client.ts";
import type { Provider } from "../internal/provider/provider.ts";
import { ProviderChecks } from "../internal/provider/provider-checks.ts";
import { PostgresIdempotencyStore } from "../internal/queue/postgres/postgres-idempotency-store.ts";
import { PostgresQueue } from "../internal/queue/postgres/postgres-queue.ts";
import { ApiKeyAuth } from "../internal/server/auth/api-key-auth.ts";
import { emailWorkerHandlers } from "../internal/server/grpc/email-worker-handlers.ts";
import { GrpcServer } from "../internal/server/grpc/grpc-server.ts";
import { EmailService } from "../internal/service/email-service.ts";
import { TemplateService } from "../internal/service/template-service.ts";
import { CampaignRepository } from "../internal/store/campaign-repository.ts";
import { CampaignScheduleRepository } from "../internal/store/campaign-schedule-repository.ts";
import type { DatabaseRouter } from "../internal/store/database-router.ts";
import { JobRepository } from "../internal/store/job-repository.ts";
import { SuppressionRepository } from "../internal/store/suppression-repository.ts";
import { TemplateRepository } from "../internal/store/template-repository.ts";
import { TrackingRepository } from "../internal/store/tracking-repository.ts";
import { RenderPool } from "../internal/template/render-pool.ts";
import { TemplateRenderer } from "../internal/template/renderer.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";
import { queueSettings } from "./queue-settings.ts";
import { openMigratedRouter, silentLogger } from "./store.ts";

/** The API key with the send scope only (key name "booking"). */
export const SEND_KEY = "test-send-key-not-a-secret";
/** The API key with the send and admin scopes (key name "ops"). */
export const ADMIN_KEY = "test-admin-key-not-a-secret";
/** The API key with the campaign scope only (key name "marketing"). */
export const CAMPAIGN_KEY = "test-campaign-key-not-a-secret";

const sha = (key: string) => createHash("sha256").update(key).digest("hex");

export interface GrpcTestServiceOptions {
  /** The providers VerifyProviders checks, by name; none unless given. */
  providers?: ReadonlyMap<string, Provider>;
  /** Asked on every call whether the service is draining; never unless given. */
  draining?: () => boolean;
}

/** The gRPC API on a real port and a fresh, migrated PostgreSQL, with a client per API key. */
export interface GrpcTestService {
  database: TestDatabase;
  router: DatabaseRouter;
  queue: PostgresQueue;
  jobs: JobRepository;
  campaigns: CampaignRepository;
  /** Feeds running campaigns onto the queue when called (no timer runs it here). */
  dispatcher: CampaignDispatcher;
  tracking: TrackingRepository;
  idempotency: PostgresIdempotencyStore;
  suppressions: SuppressionRepository;
  renderer: TemplateRenderer;
  server: GrpcServer;
  /** host:port of the server. */
  address: string;
  /** A client with SEND_KEY. */
  send: EmailWorkerClient;
  /** A client with ADMIN_KEY. */
  admin: EmailWorkerClient;
  /** A client with CAMPAIGN_KEY. */
  marketing: EmailWorkerClient;
  /** Closes the clients, stops the server and the render pool, and drops the database. */
  close(): Promise<void>;
}

/**
 * Starts the service the gRPC integration tests call: a Postgres queue, the repositories, an
 * EmailService and TemplateService behind the handlers, API keys SEND_KEY and ADMIN_KEY.
 * If it fails part way, what it had started is stopped again.
 */
export async function startGrpcTestService(options: GrpcTestServiceOptions = {}): Promise<GrpcTestService> {
  // Undone last first by close(), also when start-up fails part way.
  const undo: (() => unknown)[] = [];
  const close = async () => {
    for (const step of undo.splice(0).reverse()) await step();
  };
  try {
    const renderPool = new RenderPool({ threads: 1, timeoutMs: 5_000 });
    undo.push(() => renderPool.stop());
    const database = await createTestDatabase();
    undo.push(() => database.drop());
    const router = await openMigratedRouter({ DATABASE_URL: database.url, DB_CONNECT_TIMEOUT: "1s" });
    undo.push(() => router.destroy());
    const queue = new PostgresQueue({
      ...queueSettings().postgres,
      db: router.master,
      visibilityTimeoutMs: 60_000,
      pollIntervalMs: 50,
    });
    const jobs = new JobRepository(router);
    const tracking = new TrackingRepository(router);
    const idempotency = new PostgresIdempotencyStore(router.master);
    const suppressions = new SuppressionRepository(router);
    const templates = new TemplateRepository(router);
    const renderer = new TemplateRenderer({
      source: { get: (id) => templates.get(id) },
      pool: renderPool,
      maxTemplateBytes: 512 * 1024,
    });
    const campaigns = new CampaignRepository(router);
    const templateService = new TemplateService({ templates, renderer, invalidate: () => {} });
    const campaignSchedules = new CampaignScheduleRepository(router);
    const dispatcher = new CampaignDispatcher({
      campaigns,
      schedules: campaignSchedules,
      jobs,
      queue,
      laneDepth: 1_000,
      sliceSize: 500,
      logger: silentLogger,
    });
    const server = new GrpcServer({
      port: 0,
      host: "127.0.0.1",
      handlers: emailWorkerHandlers({
        emails: new EmailService({
          queue,
          jobs,
          tracking,
          idempotency,
          defaultMaxRetries: 3,
          suppressions,
          logger: silentLogger,
        }),
        campaigns: new CampaignService({
          campaigns,
          schedules: campaignSchedules,
          templates: templateService,
          providers: ["smtp"],
          dispatcher,
          logger: silentLogger,
        }),
        templates: templateService,
        providerChecks: new ProviderChecks({
          providers: options.providers ?? new Map(),
          timeoutMs: 5_000,
          logger: silentLogger,
        }),
        auth: new ApiKeyAuth([
          { name: "booking", sha256: sha(SEND_KEY), scopes: ["send"] },
          { name: "ops", sha256: sha(ADMIN_KEY), scopes: ["send", "admin"] },
          { name: "marketing", sha256: sha(CAMPAIGN_KEY), scopes: ["campaign"] },
        ]),
        draining: options.draining ?? (() => false),
        logger: silentLogger,
      }),
      logger: silentLogger,
    });
    undo.push(() => server.stop(1_000));
    const address = `127.0.0.1:${await server.start()}`;
    const send = new EmailWorkerClient({ address, apiKey: SEND_KEY, timeoutMs: 5_000 });
    undo.push(() => send.close());
    const admin = new EmailWorkerClient({ address, apiKey: ADMIN_KEY, timeoutMs: 5_000 });
    undo.push(() => admin.close());
    const marketing = new EmailWorkerClient({ address, apiKey: CAMPAIGN_KEY, timeoutMs: 5_000 });
    undo.push(() => marketing.close());
    return {
      database,
      router,
      queue,
      jobs,
      campaigns,
      dispatcher,
      tracking,
      idempotency,
      suppressions,
      renderer,
      server,
      address,
      send,
      admin,
      marketing,
      close,
    };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}

/** The status name a call ended with: "OK", or the refusal's code ("INVALID_ARGUMENT", …). */
export const codeOf = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => "OK",
    (e: grpc.ServiceError) => grpc.status[e.code],
  );
