import { databaseTargets, loadConfig } from "../../internal/config/index.ts";
import { createLogger } from "../../internal/log/logger.ts";
import { migrateToLatest } from "../../internal/store/migrator.ts";
import { openDatabase } from "../../internal/store/open-database.ts";

/** `npm run migrate`: applies pending migrations to the configured database and exits. */
async function main(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const logger = createLogger(config.logging);
  const { router, description } = await openDatabase({
    targets: databaseTargets(config.database),
    settings: config.database,
    logger,
  });
  try {
    const applied = await migrateToLatest(router.master);
    const names = applied.map((m) => m.migrationName);
    console.log(
      names.length ? `applied to ${description}: ${names.join(", ")}` : `${description} is up to date`,
    );
  } finally {
    await router.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(`migrate: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
