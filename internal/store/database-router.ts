import { type Kysely, sql } from "kysely";
import type { Logger } from "pino";
import { DatabaseUnavailableError } from "./errors.ts";
import type { Database } from "./schema.ts";

export type ReplicaState = "none" | "up" | "down";

interface ReplicaStatus {
  state: ReplicaState;
  /** When the replica was last seen failing; reads go to the master until retry_interval after it. */
  down_since: Date | undefined;
  last_error: string | undefined;
  /** Reads the master served because the replica could not. */
  fallback_reads: number;
}

export interface ReadOptions {
  /** "strong" reads the master: use it for a row this process has just written. */
  consistency?: "strong" | "eventual";
}

interface DatabaseRouterOptions {
  master: Kysely<Database>;
  replica?: Kysely<Database> | undefined;
  /** After a replica failure, how long reads stay on the master before the replica is tried again. */
  retryIntervalMs: number;
  logger: Logger;
  /** Told when the replica goes down or comes back (metrics). */
  onReplicaStateChange?: (state: ReplicaState) => void;
  now?: () => number;
}

/**
 * Master/replica routing, as the Go service did it: writes and reads that must see the latest write go to
 * `master`; other reads go through `read()`, which uses the replica and, when the replica cannot be
 * reached, runs the same query on the master instead, so the caller never sees the outage. The
 * replica is retried after `retryIntervalMs`.
 */
export class DatabaseRouter {
  readonly master: Kysely<Database>;
  readonly #replica: Kysely<Database> | undefined;
  readonly #retryIntervalMs: number;
  readonly #logger: Logger;
  readonly #onStateChange: ((state: ReplicaState) => void) | undefined;
  readonly #now: () => number;
  #downSince: number | undefined;
  #lastError: string | undefined;
  #fallbackReads = 0;

  constructor(options: DatabaseRouterOptions) {
    this.master = options.master;
    this.#replica = options.replica;
    this.#retryIntervalMs = options.retryIntervalMs;
    this.#logger = options.logger;
    this.#onStateChange = options.onReplicaStateChange;
    this.#now = options.now ?? Date.now;
  }

  async read<T>(query: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const replica = this.#replica;
    if (replica === undefined) return query(this.master);
    if (this.#downSince !== undefined && this.#now() - this.#downSince < this.#retryIntervalMs) {
      this.#fallbackReads++;
      return query(this.master);
    }
    try {
      const result = await query(replica);
      if (this.#downSince !== undefined) this.#markUp();
      return result;
    } catch (error) {
      if (!(error instanceof DatabaseUnavailableError)) throw error;
      this.#markDown(error);
      this.#fallbackReads++;
      return query(this.master);
    }
  }

  /** Round trip to the master (readiness). */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.master);
  }

  status(): ReplicaStatus {
    const state: ReplicaState =
      this.#replica === undefined ? "none" : this.#downSince === undefined ? "up" : "down";
    return {
      state,
      down_since: this.#downSince === undefined ? undefined : new Date(this.#downSince),
      last_error: this.#lastError,
      fallback_reads: this.#fallbackReads,
    };
  }

  /** Closes both pools; the router is unusable afterwards. */
  async destroy(): Promise<void> {
    await Promise.all([this.master.destroy(), this.#replica?.destroy()]);
  }

  #markDown(error: DatabaseUnavailableError): void {
    const wasUp = this.#downSince === undefined;
    this.#downSince = this.#now();
    this.#lastError = error.message;
    if (wasUp) {
      this.#logger.warn(
        { err: error, code: error.code },
        "replica unavailable; reads fall back to the master",
      );
      this.#onStateChange?.("down");
    }
  }

  #markUp(): void {
    this.#downSince = undefined;
    this.#logger.info("replica available again; reads go to the replica");
    this.#onStateChange?.("up");
  }
}
