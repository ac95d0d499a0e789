import { mkdirSync } from "node:fs";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Logger } from "pino";
import type { Config, DatabaseTargets, PostgresTarget } from "../config/index.ts";
import { maskUrl } from "../config/index.ts";
import { type PostgresUrl, parseMultiHostUrl } from "../config/postgres-url.ts";
import { DatabaseRouter, type ReplicaState } from "./database-router.ts";
import { DatabaseUnavailableError } from "./errors.ts";
import { failoverPool } from "./host-failover-pool.ts";
import { multiHostClient } from "./multi-host-client.ts";
import { PGliteDialect } from "./pglite-dialect.ts";
import type { Database } from "./schema.ts";
import { UnavailableErrorDialect } from "./unavailable-dialect.ts";

interface OpenDatabaseOptions {
  targets: DatabaseTargets;
  settings: Config["database"];
  logger: Logger;
  onReplicaStateChange?: (state: ReplicaState) => void;
}

interface OpenedDatabase {
  router: DatabaseRouter;
  /** Where the data lives, for logs: a masked URL or the embedded directory. */
  description: string;
  embedded: boolean;
}

function sslOption(mode: PostgresTarget["ssl_mode"]): pg.PoolConfig["ssl"] {
  switch (mode) {
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
    case "verify-full":
      return { rejectUnauthorized: true };
    default:
      return false;
  }
}

function createPool(
  target: PostgresTarget,
  multiHost: PostgresUrl | undefined,
  settings: Config["database"],
  logger: Logger,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: target.url,
    // node-postgres takes one host: with several, or a target_session_attrs, each new connection
    // picks its host itself (and the URL it is given names only that one).
    ...(multiHost && { Client: multiHostClient(multiHost) }),
    ssl: sslOption(target.ssl_mode),
    max: settings.max_open_conns,
    min: Math.min(settings.max_idle_conns, settings.max_open_conns),
    idleTimeoutMillis: settings.idle_timeout,
    maxLifetimeSeconds: Math.ceil(settings.conn_max_lifetime / 1000),
    connectionTimeoutMillis: settings.connect_timeout,
    statement_timeout: settings.query_timeout,
    // The client gives up a little after the server would have cancelled the statement, so a dead
    // connection cannot hang a caller either.
    query_timeout: settings.query_timeout + 5_000,
    application_name: "email-worker",
  });
  // An idle client whose server goes away emits 'error' on the pool; unhandled, it would end the
  // process. The next query gets a fresh connection or a DatabaseUnavailableError.
  pool.on("error", (error) => logger.warn({ err: error }, "idle database connection lost"));
  // A client checked out of the pool has no pool listener: a server that goes away between two of
  // its queries (a master restart) makes it emit 'error' with nobody listening, which would end the
  // process. The query in progress fails on its own; the client is discarded on release.
  pool.on("connect", (client) => {
    client.on("error", (error) => logger.warn({ err: error }, "database connection lost while in use"));
  });
  return pool;
}

function postgresKysely(target: PostgresTarget, settings: Config["database"], logger: Logger, role: string) {
  const multiHost = parseMultiHostUrl(target.url);
  const pool = createPool(target, multiHost, settings, logger.child({ database: role }));
  const where = `PostgreSQL ${role} at ${maskUrl(target.url)}`;
  const dialect = new PostgresDialect({ pool: failoverPool(pool, multiHost?.hosts.length ?? 1) });
  return new Kysely<Database>({ dialect: new UnavailableErrorDialect(dialect, where) });
}

async function openEmbedded(dir: string, logger: Logger): Promise<Kysely<Database>> {
  if (dir !== "memory://") mkdirSync(dir, { recursive: true });
  // Loaded only for the embedded default: a service on a real PostgreSQL never needs its WASM.
  const { PGlite } = await import("@electric-sql/pglite");
  const db = await PGlite.create(dir);
  logger.info({ dir }, "using the embedded PostgreSQL (PGlite)");
  return new Kysely<Database>({ dialect: new PGliteDialect(db) });
}

/**
 * Opens the configured databases and checks the master answers, so that a wrong URL stops start-up
 * with a message naming it (password masked) instead of failing on the first email. A replica that
 * does not answer is only logged: reads fall back to the master until it does.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const { targets, settings, logger } = options;
  const routerOptions = {
    retryIntervalMs: settings.replica_retry_interval,
    logger,
    ...(options.onReplicaStateChange && { onReplicaStateChange: options.onReplicaStateChange }),
  };
  if (targets.kind === "embedded") {
    const master = await openEmbedded(targets.dir, logger);
    return {
      router: new DatabaseRouter({ master, ...routerOptions }),
      description: `embedded:${targets.dir}`,
      embedded: true,
    };
  }
  const master = postgresKysely(targets.master, settings, logger, "master");
  const replica = targets.replica && postgresKysely(targets.replica, settings, logger, "replica");
  const router = new DatabaseRouter({ master, replica, ...routerOptions });
  try {
    await sql`select 1`.execute(master);
  } catch (error) {
    await router.destroy();
    if (error instanceof DatabaseUnavailableError) throw error;
    throw new DatabaseUnavailableError(
      `cannot use PostgreSQL master at ${maskUrl(targets.master.url)}: ${(error as Error).message}`,
      "connect_failed",
      { cause: error },
    );
  }
  if (replica) {
    await router.read((db) => sql`select 1`.execute(db));
  }
  return { router, description: maskUrl(targets.master.url), embedded: false };
}
