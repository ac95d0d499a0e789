import type { PostgresPool } from "kysely";
import type pg from "pg";
import { HostUnusableError } from "./multi-host-client.ts";

/**
 * The pool as Kysely sees it, with a connection attempt that fails on one host retried on the next
 * (the rotation has already moved on), up to once per host: a caller sees an error only when no
 * host will do, the way libpq tries a multi-host URL's hosts in turn.
 */
export function failoverPool(pool: pg.Pool, hostCount: number): PostgresPool {
  const Client = pool.options.Client as PostgresPool["Client"] | undefined;
  return {
    // Kysely makes its query-cancelling connections with these: they pick their host the same way.
    ...(Client && { Client }),
    options: pool.options,
    async connect() {
      for (let attempt = 1; ; attempt++) {
        try {
          return await pool.connect();
        } catch (error) {
          if (!(error instanceof HostUnusableError) || attempt >= hostCount) throw error;
        }
      }
    },
    end: () => pool.end(),
  };
}
