import { type Kysely, sql } from "kysely";
import type { Database } from "../../store/schema.ts";
import type { IdempotencyRecord, IdempotencyState, IdempotencyStore } from "../idempotency.ts";

export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async reserve(key: string, jobId: string, ttlMs: number, fingerprint?: string): Promise<IdempotencyRecord> {
    // Insert, or take over a reservation that has expired; otherwise the row stays and is read back.
    const row = await this.#db
      .insertInto("email_idempotency_keys")
      .values({
        key,
        job_id: jobId,
        state: "queued",
        fingerprint: fingerprint ?? null,
        expires_at: sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})`,
      })
      .onConflict((oc) =>
        oc
          .column("key")
          .doUpdateSet({
            job_id: jobId,
            state: "queued",
            fingerprint: fingerprint ?? null,
            expires_at: sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})`,
          })
          .where("email_idempotency_keys.expires_at", "<", sql<Date>`now()`),
      )
      .returning(["job_id", "state", "fingerprint"])
      .executeTakeFirst();
    const current =
      row ??
      (await this.#db
        .selectFrom("email_idempotency_keys")
        .select(["job_id", "state", "fingerprint"])
        .where("key", "=", key)
        .executeTakeFirstOrThrow());
    return {
      job_id: current.job_id,
      state: current.state as IdempotencyState,
      created: row !== undefined,
      ...(current.fingerprint !== null && { fingerprint: current.fingerprint }),
    };
  }

  async markSent(key: string, jobId: string): Promise<void> {
    await this.#db
      .updateTable("email_idempotency_keys")
      .set({ state: "sent" })
      .where("key", "=", key)
      .where("job_id", "=", jobId)
      .execute();
  }

  async release(key: string, jobId: string): Promise<void> {
    await this.#db
      .deleteFrom("email_idempotency_keys")
      .where("key", "=", key)
      .where("job_id", "=", jobId)
      .execute();
  }

  async cleanup(): Promise<number> {
    const result = await this.#db
      .deleteFrom("email_idempotency_keys")
      .where("expires_at", "<", sql<Date>`now()`)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
