import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { openMigratedRouter, silentLogger, testConfig } from "../../test/store.ts";
import { databaseTargets } from "../config/index.ts";
import type { DatabaseRouter } from "./database-router.ts";
import { MigrationError, migrateToLatest } from "./migrator.ts";
import { openDatabase } from "./open-database.ts";
import { SCHEMA_COLUMNS } from "./schema.ts";

describe("migrations", () => {
  let database: TestDatabase;
  let router: DatabaseRouter;

  beforeAll(async () => {
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url });
  });
  afterAll(async () => {
    await router?.destroy();
    await database?.drop();
  });

  it("produce exactly the tables and columns the Kysely interfaces declare", async () => {
    const rows = await sql<{ table_name: string; column_name: string; is_nullable: "YES" | "NO" }>`
      select table_name, column_name, is_nullable from information_schema.columns
      where table_schema = 'public' and table_name like 'email_%'`.execute(router.master);
    const actual: Record<string, Record<string, string>> = {};
    for (const row of rows.rows) {
      actual[row.table_name] ??= {};
      (actual[row.table_name] as Record<string, string>)[row.column_name] =
        row.is_nullable === "YES" ? "null" : "not null";
    }
    expect(actual).toEqual(SCHEMA_COLUMNS);
  });

  it("keep the Go service's indexes", async () => {
    const rows = await sql<{ indexname: string }>`
      select indexname from pg_indexes where schemaname = 'public'`.execute(router.master);
    const names = rows.rows.map((r) => r.indexname);
    for (const goIndex of [
      "idx_email_jobs_status",
      "idx_email_jobs_scheduled_at",
      "idx_email_jobs_created_at",
      "idx_email_tracking_job_id",
      "idx_email_tracking_status",
    ]) {
      expect(names).toContain(goIndex);
    }
  });

  it("are idempotent, and safe when several processes migrate at once", async () => {
    expect(await migrateToLatest(router.master)).toEqual([]);
    const fresh = await createTestDatabase();
    const config = testConfig({ DATABASE_URL: fresh.url });
    const routers = await Promise.all(
      [1, 2, 3].map(() =>
        openDatabase({
          targets: databaseTargets(config.database),
          settings: config.database,
          logger: silentLogger,
        }),
      ),
    );
    try {
      const results = await Promise.all(routers.map(({ router: r }) => migrateToLatest(r.master)));
      const applied = results.flat().map((r) => r.migrationName);
      expect(applied.sort()).toEqual([
        "001_initial_schema",
        "002_job_details",
        "003_queue",
        "004_suppressions",
        "005_provider_events",
        "006_machine_opens",
        "007_unattributed_bounces",
        "008_recipient_any_case",
        "009_idempotency_fingerprint",
        "010_job_recipients_tags_sandbox",
        "011_campaigns",
        "012_batches",
        "013_campaign_schedules",
        "014_untracked_campaigns",
        "015_throughput_minutes",
        "016_untagged_jobs_unindexed",
        "017_reply_to_names",
      ]);
    } finally {
      await Promise.all(routers.map(({ router: r }) => r.destroy()));
      await fresh.drop();
    }
  });

  it("name the migration that failed and apply none of the batch (one transaction)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ew-migrations-"));
    const scratch = await createTestDatabase();
    const config = testConfig({ DATABASE_URL: scratch.url });
    const { router: r } = await openDatabase({
      targets: databaseTargets(config.database),
      settings: config.database,
      logger: silentLogger,
    });
    try {
      writeFileSync(join(dir, "001_ok.sql"), "CREATE TABLE ok_table (id int);");
      writeFileSync(
        join(dir, "002_broken.sql"),
        "CREATE TABLE half (id int);\nCREATE TABLE oops (id nonsense_type);",
      );
      const failure = await migrateToLatest(r.master, dir).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(MigrationError);
      expect((failure as MigrationError).migration).toBe("002_broken");
      const tables = await sql<{ tablename: string }>`
        select tablename from pg_tables where schemaname = 'public'`.execute(r.master);
      const names = tables.rows.map((t) => t.tablename);
      expect(names).not.toContain("ok_table");
      expect(names).not.toContain("half");
    } finally {
      await r.destroy();
      await scratch.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("opening the database", () => {
  it("stops with a message naming the URL, password masked, when the master cannot be reached", async () => {
    const config = testConfig({
      DATABASE_URL: "postgres://app:s3cret@127.0.0.1:1/email",
      DB_CONNECT_TIMEOUT: "1s",
    });
    const failure = await openDatabase({
      targets: databaseTargets(config.database),
      settings: config.database,
      logger: silentLogger,
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ kind: "unavailable" });
    const message = (failure as Error).message;
    expect(message).toContain("postgres://app:***@127.0.0.1:1/email");
    expect(message).not.toContain("s3cret");
  });
});
