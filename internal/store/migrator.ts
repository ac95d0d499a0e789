import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Kysely, sql } from "kysely";
import { type Migration, type MigrationProvider, type MigrationResult, Migrator } from "kysely/migration";
import { KindedError } from "../errors/error-kind.ts";

/** database/migrations beside internal/: the sources' own, or the copy `npm run build` puts in dist/. */
function defaultMigrationsDir(): string {
  return fileURLToPath(new URL("../../database/migrations/", import.meta.url));
}

/**
 * Plain SQL files, applied in name order, each in its own transaction. They never import app code:
 * a migration is frozen the day it is applied.
 */
class SqlFileMigrationProvider implements MigrationProvider {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.#dir)).filter((file) => file.endsWith(".sql")).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const text = await readFile(join(this.#dir, file), "utf8");
      migrations[file.replace(/\.sql$/, "")] = {
        // biome-ignore lint/suspicious/noExplicitAny: a migration is written against no app types.
        up: async (db: Kysely<any>) => {
          await sql.raw(text).execute(db);
        },
      };
    }
    return migrations;
  }
}

export class MigrationError extends KindedError<"migration_failed"> {
  override readonly name = "MigrationError";
  readonly migration: string | undefined;

  constructor(migration: string | undefined, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const message = migration ? `migration ${migration} failed: ${reason}` : `migrations failed: ${reason}`;
    super("migration_failed", message, { cause });
    this.migration = migration;
  }
}

/**
 * Brings the schema to the newest migration. Kysely takes an advisory lock, so replicas starting
 * together apply each migration once.
 */
export async function migrateToLatest(
  // biome-ignore lint/suspicious/noExplicitAny: the migrator works below the app's schema types.
  db: Kysely<any>,
  dir: string = defaultMigrationsDir(),
): Promise<MigrationResult[]> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(dir) });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === "Error");
    throw new MigrationError(failed?.migrationName, error);
  }
  return results;
}
