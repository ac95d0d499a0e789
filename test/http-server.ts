import { Registry } from "prom-client";
import { PostgresIdempotencyStore } from "../internal/queue/postgres/postgres-idempotency-store.ts";
import { PostgresQueue } from "../internal/queue/postgres/postgres-queue.ts";
import { ApiKeyAuth } from "../internal/server/auth/api-key-auth.ts";
import { HealthMonitor } from "../internal/server/http/health-monitor.ts";
import { HttpServer, type HttpServerOptions } from "../internal/server/http/http-server.ts";
import { EmailService } from "../internal/service/email-service.ts";
import type { DatabaseRouter } from "../internal/store/database-router.ts";
import { JobRepository } from "../internal/store/job-repository.ts";
import { SuppressionRepository } from "../internal/store/suppression-repository.ts";
import { TrackingRepository } from "../internal/store/tracking-repository.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";
import { queueSettings } from "./queue-settings.ts";
import { openMigratedRouter, silentLogger } from "./store.ts";

export interface TestHttpServer {
  base: string;
  database: TestDatabase;
  router: DatabaseRouter;
  queue: PostgresQueue;
  jobs: JobRepository;
  tracking: TrackingRepository;
  suppressions: SuppressionRepository;
  close(): Promise<void>;
}

type Parts = Pick<TestHttpServer, "router" | "queue" | "jobs" | "tracking" | "suppressions">;

/**
 * The HTTP server over real repositories on a throwaway database and a postgres queue, with no
 * worker. `extra` adds what a test is about (webhooks, links, its own health monitor).
 */
export async function startTestHttpServer(
  extra: (parts: Parts) => Partial<Pick<HttpServerOptions, "webhooks" | "links" | "health">> = () => ({}),
): Promise<TestHttpServer> {
  const database = await createTestDatabase();
  const router = await openMigratedRouter({ DATABASE_URL: database.url, DB_CONNECT_TIMEOUT: "1s" });
  const queue = new PostgresQueue({
    ...queueSettings().postgres,
    db: router.master,
    visibilityTimeoutMs: 60_000,
    pollIntervalMs: 100,
  });
  const jobs = new JobRepository(router);
  const tracking = new TrackingRepository(router);
  const suppressions = new SuppressionRepository(router);
  const parts = { router, queue, jobs, tracking, suppressions };
  const server = new HttpServer({
    port: 0,
    host: "127.0.0.1",
    service: new EmailService({
      queue,
      jobs,
      tracking,
      idempotency: new PostgresIdempotencyStore(router.master),
      suppressions,
      defaultMaxRetries: 3,
      logger: silentLogger,
    }),
    auth: new ApiKeyAuth([]),
    health: new HealthMonitor({
      version: "test",
      checkQueue: async () => {},
      checkDatabase: async () => {},
      replicaState: () => "none",
      providers: () => ({}),
      lastConsumerTick: () => new Date(),
      livenessThresholdMs: 60_000,
    }),
    registry: new Registry(),
    logger: silentLogger,
    ...extra(parts),
  });
  const base = `http://127.0.0.1:${await server.start()}`;
  return {
    base,
    database,
    ...parts,
    async close() {
      await server.stop();
      await router.destroy();
      await database.drop();
    },
  };
}
