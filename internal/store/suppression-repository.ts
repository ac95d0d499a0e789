import { CompiledQuery, type Selectable, sql } from "kysely";
import type { DatabaseRouter } from "./database-router.ts";
import type { EmailSuppressionTable } from "./schema.ts";
import { StatementBatcher } from "./statement-batcher.ts";

export type SuppressionRecord = Selectable<EmailSuppressionTable>;

/** Why an address is suppressed; the gRPC API accepts exactly these. */
export const SUPPRESSION_REASONS = ["hard_bounce", "complaint", "unsubscribe", "manual"] as const;

export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export interface SuppressionPage {
  suppressions: SuppressionRecord[];
  next_cursor: string | undefined;
}

/** What the rest of the service needs of the suppression list (the repository, or a cache over it). */
export type SuppressionList = Pick<SuppressionRepository, "add" | "remove" | "find" | "list">;

/** Addresses compare case-insensitively: the whole address is stored lower-cased. */
export function normaliseAddress(email: string): string {
  return email.trim().toLowerCase();
}

/** `email_suppressions`: addresses no email may be sent to. */
export class SuppressionRepository {
  readonly #router: DatabaseRouter;
  /** Lookups of concurrent jobs (one per email sent) go out as one query. */
  readonly #lookups = new StatementBatcher<string, SuppressionRecord | undefined>((emails) =>
    this.#findMany(emails),
  );

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  /** Adds the address, or keeps the first entry if it is already there (its reason is the one that counts). */
  async add(entry: { email: string; reason: SuppressionReason; source: string; details?: string | null }) {
    const email = normaliseAddress(entry.email);
    await this.#router.master
      .insertInto("email_suppressions")
      .values({ email, reason: entry.reason, source: entry.source, details: entry.details ?? null })
      .onConflict((oc) => oc.column("email").doNothing())
      .execute();
    return this.#router.master
      .selectFrom("email_suppressions")
      .selectAll()
      .where("email", "=", email)
      .executeTakeFirstOrThrow();
  }

  async remove(email: string): Promise<boolean> {
    const result = await this.#router.master
      .deleteFrom("email_suppressions")
      .where("email", "=", normaliseAddress(email))
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Read from the master: a suppression added a moment ago must already stop sends. */
  find(email: string): Promise<SuppressionRecord | undefined> {
    return this.#lookups.call(normaliseAddress(email));
  }

  async #findMany(emails: string[]): Promise<(SuppressionRecord | undefined)[]> {
    // Written out rather than built: compiling the query per batch (one per few emails sent) was a
    // measurable share of the fast path's CPU, and one array parameter keeps the text the same.
    const { rows } = await this.#router.master.executeQuery<SuppressionRecord>(
      CompiledQuery.raw("select * from email_suppressions where email = any($1::text[])", [
        [...new Set(emails)],
      ]),
    );
    const byEmail = new Map(rows.map((row) => [row.email, row]));
    return emails.map((email) => byEmail.get(email));
  }

  /** How many addresses are suppressed, and the database's clock when counted. */
  async count(): Promise<{ count: number; now: Date }> {
    const { rows } = await sql<{ count: string | number; now: Date }>`
      select count(*) as count, now() as now from email_suppressions`.execute(this.#router.master);
    return { count: Number(rows[0]?.count ?? 0), now: rows[0]?.now ?? new Date() };
  }

  /** Every suppressed address, `pageSize` at a time in address order (never the whole list at once). */
  async *addresses(pageSize: number): AsyncGenerator<string[]> {
    let after = "";
    for (;;) {
      const { rows } = await sql<{ email: string }>`
        select email from email_suppressions where email > ${after}
        order by email limit ${pageSize}`.execute(this.#router.master);
      if (rows.length === 0) return;
      yield rows.map((row) => row.email);
      after = rows.at(-1)?.email ?? after;
      if (rows.length < pageSize) return;
    }
  }

  /**
   * Addresses suppressed since `since` (at most `limit`), and the database's clock when read: the
   * next call asks from a little before it, as a row is dated when its transaction ran, not when
   * it committed.
   */
  async addedSince(since: Date, limit: number): Promise<{ emails: string[]; now: Date }> {
    const { rows } = await sql<{ emails: string[]; now: Date }>`
      select now() as now, array(
        select email from email_suppressions where created_at > ${since}
        order by created_at limit ${limit}) as emails`.execute(this.#router.master);
    return { emails: rows[0]?.emails ?? [], now: rows[0]?.now ?? new Date() };
  }

  /** Newest first; `cursor` is the last address of the previous page. */
  async list(options: { limit?: number; cursor?: string; contains?: string } = {}): Promise<SuppressionPage> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 1_000);
    const rows = await this.#router.read((db) => {
      let query = db.selectFrom("email_suppressions").selectAll();
      if (options.contains)
        query = query.where(
          "email",
          "like",
          `%${options.contains.toLowerCase().replace(/[%_\\]/g, "\\$&")}%`,
        );
      if (options.cursor) {
        const cursor = options.cursor;
        query = query.where((eb) =>
          eb(
            sql`(created_at, email)`,
            "<",
            sql`((select created_at from email_suppressions where email = ${cursor}), ${cursor})`,
          ),
        );
      }
      return query
        .orderBy("created_at", "desc")
        .orderBy("email", "desc")
        .limit(limit + 1)
        .execute();
    });
    const page = rows.slice(0, limit);
    return {
      suppressions: page,
      next_cursor: rows.length > limit ? page[page.length - 1]?.email : undefined,
    };
  }
}
