import { pino } from "pino";
import { type Config, databaseTargets, type Env, loadConfig } from "../internal/config/index.ts";
import type { DatabaseRouter } from "../internal/store/database-router.ts";
import { migrateToLatest } from "../internal/store/migrator.ts";
import { openDatabase } from "../internal/store/open-database.ts";

export const silentLogger = pino({ level: "silent" });

/** Configuration from defaults plus `env`, ignoring any config.yaml. */
export function testConfig(env: Env = {}): Config {
  return loadConfig({ env, file: false });
}

/** A router on `env`'s databases (DATABASE_URL, DATABASE_REPLICA_URL, DB_EMBEDDED_DIR…), migrated. */
export async function openMigratedRouter(env: Env): Promise<DatabaseRouter> {
  const config = testConfig(env);
  const { router } = await openDatabase({
    targets: databaseTargets(config.database),
    settings: config.database,
    logger: silentLogger,
  });
  await migrateToLatest(router.master);
  return router;
}
