import { ConfigError, databaseTargets, loadConfig } from "../../internal/config/index.ts";
import { createLogger } from "../../internal/log/logger.ts";
import { DatabaseUnavailableError } from "../../internal/store/errors.ts";
import { MigrationError, migrateToLatest } from "../../internal/store/migrator.ts";
import { openDatabase } from "../../internal/store/open-database.ts";
import { ensureSampleTemplates } from "../../internal/store/sample-templates.ts";
import { TemplateRepository } from "../../internal/store/template-repository.ts";
import { onShutdownSignal } from "../signals.ts";

async function main(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const logger = createLogger(config.logging);
  const { router, description, embedded } = await openDatabase({
    targets: databaseTargets(config.database),
    settings: config.database,
    logger: logger.child({ component: "database" }),
  });
  logger.info({ database: description }, "database connected");

  if (config.database.auto_migrate) {
    const applied = await migrateToLatest(router.master);
    logger.info({ applied: applied.map((m) => m.migrationName) }, "schema up to date");
  }
  if (embedded) {
    const added = await ensureSampleTemplates(new TemplateRepository(router));
    if (added.length > 0) logger.info({ templates: added }, "sample templates added");
  }

  logger.info(
    { queue_driver: config.queue.driver, default_provider: config.email.default_provider },
    "email-worker started",
  );
  const signal = await onShutdownSignal(() => logger.warn("second signal: exiting without draining"));
  logger.info({ signal }, "shutting down");
  await router.destroy();
  logger.info("stopped");
  logger.flush();
}

main().catch((error: unknown) => {
  // Start-up failures an operator fixes in configuration get their message alone, not a stack.
  const expected =
    error instanceof ConfigError ||
    error instanceof DatabaseUnavailableError ||
    error instanceof MigrationError;
  console.error(
    `email-worker: ${expected ? (error as Error).message : error instanceof Error ? error.stack : error}`,
  );
  process.exit(1);
});
