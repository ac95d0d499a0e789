import type { Config } from "../../internal/config/index.ts";
import { databaseTargets } from "../../internal/config/index.ts";
import type { Logger } from "../../internal/log/logger.ts";
import { replicaUpValue } from "../../internal/metrics/delivery-gauges.ts";
import type { Metrics } from "../../internal/metrics/metrics.ts";
import { CachedSuppressionList } from "../../internal/store/cached-suppression-list.ts";
import { CampaignOutcomeRepository } from "../../internal/store/campaign-outcome-repository.ts";
import { CampaignRepository } from "../../internal/store/campaign-repository.ts";
import { CampaignScheduleRepository } from "../../internal/store/campaign-schedule-repository.ts";
import type { DatabaseRouter } from "../../internal/store/database-router.ts";
import { JobRepository } from "../../internal/store/job-repository.ts";
import { migrateToLatest } from "../../internal/store/migrator.ts";
import { openDatabase } from "../../internal/store/open-database.ts";
import { ensureSampleTemplates } from "../../internal/store/sample-templates.ts";
import { SuppressionRepository } from "../../internal/store/suppression-repository.ts";
import { TemplateRepository } from "../../internal/store/template-repository.ts";
import { ThroughputRepository } from "../../internal/store/throughput-repository.ts";
import { TrackingRepository } from "../../internal/store/tracking-repository.ts";
import { undoWith } from "./start-up.ts";

export interface Storage {
  database: DatabaseRouter;
  jobs: JobRepository;
  campaigns: CampaignRepository;
  campaignOutcomes: CampaignOutcomeRepository;
  campaignSchedules: CampaignScheduleRepository;
  templates: TemplateRepository;
  tracking: TrackingRepository;
  suppressions: CachedSuppressionList;
  /** The fleet's sent and failed emails per minute (the console's throughput chart). */
  throughput: ThroughputRepository;
  /** Closes the databases. */
  close(): Promise<void>;
}

/** Storage: master/replica (or embedded), schema, repositories. */
export async function openStorage(config: Config, logger: Logger, metrics: Metrics): Promise<Storage> {
  await using undo = new AsyncDisposableStack();
  const opened = await openDatabase({
    targets: databaseTargets(config.database),
    settings: config.database,
    logger: logger.child({ component: "database" }),
    onReplicaStateChange: (state) => metrics.replicaUp.set(replicaUpValue(state)),
  });
  const database = opened.router;
  undoWith(undo, () => database.destroy());
  if (database.status().state === "up") metrics.replicaUp.set(1);
  logger.info({ database: opened.description }, "database connected");
  if (config.database.auto_migrate) {
    const applied = await migrateToLatest(database.master);
    logger.info({ applied: applied.map((m) => m.migrationName) }, "schema up to date");
  }
  const templates = new TemplateRepository(database);
  if (opened.embedded) {
    const added = await ensureSampleTemplates(templates);
    if (added.length > 0) logger.info({ templates: added }, "sample templates added");
  }
  const suppressions = new CachedSuppressionList(new SuppressionRepository(database), {
    ttlMs: config.email.suppression_cache_ttl,
    max: config.email.suppression_cache_size,
  });
  undo.move();
  return {
    database,
    jobs: new JobRepository(database),
    campaigns: new CampaignRepository(database),
    campaignOutcomes: new CampaignOutcomeRepository(database),
    campaignSchedules: new CampaignScheduleRepository(database),
    templates,
    tracking: new TrackingRepository(database),
    suppressions,
    throughput: new ThroughputRepository(database),
    close: () => database.destroy(),
  };
}
