import { PostgresIdempotencyStore } from "../internal/queue/postgres/postgres-idempotency-store.ts";
import { CampaignOutcomeRepository } from "../internal/store/campaign-outcome-repository.ts";
import type { DatabaseRouter } from "../internal/store/database-router.ts";
import { JobRepository } from "../internal/store/job-repository.ts";
import { SuppressionRepository } from "../internal/store/suppression-repository.ts";
import { TemplateRepository } from "../internal/store/template-repository.ts";
import { TrackingRepository } from "../internal/store/tracking-repository.ts";
import { openMigratedRouter } from "./store.ts";

/** Repositories on an in-memory PGlite: real SQL, no server, for unit tests of the layers above. */
export interface EmbeddedStore {
  router: DatabaseRouter;
  jobs: JobRepository;
  tracking: TrackingRepository;
  templates: TemplateRepository;
  suppressions: SuppressionRepository;
  idempotency: PostgresIdempotencyStore;
  campaignOutcomes: CampaignOutcomeRepository;
  close(): Promise<void>;
}

export async function openEmbeddedStore(): Promise<EmbeddedStore> {
  const router = await openMigratedRouter({ DB_EMBEDDED_DIR: "memory://" });
  return {
    router,
    jobs: new JobRepository(router),
    tracking: new TrackingRepository(router),
    templates: new TemplateRepository(router),
    suppressions: new SuppressionRepository(router),
    idempotency: new PostgresIdempotencyStore(router.master),
    campaignOutcomes: new CampaignOutcomeRepository(router),
    close: () => router.destroy(),
  };
}
