import type { Selectable } from "kysely";
import type { DatabaseRouter } from "./database-router.ts";
import type { EmailUnattributedBounceTable } from "./schema.ts";

export type UnattributedBounceRecord = Selectable<EmailUnattributedBounceTable>;

export interface NewUnattributedBounce {
  reason: string;
  details?: string | null;
  mail_from: string | null;
  rcpt_to: readonly string[];
  remote_address?: string | null;
  raw: Buffer;
}

/** What is kept of a message: enough to read its headers and its failure text, not its attachments. */
export const MAX_KEPT_BYTES = 256 * 1024;

/** `email_unattributed_bounces`: bounces (or messages sent as if) the listener could not record as events. */
export class UnattributedBounceRepository {
  readonly #router: DatabaseRouter;

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  async keep(entry: NewUnattributedBounce): Promise<string> {
    const row = await this.#router.master
      .insertInto("email_unattributed_bounces")
      .values({
        reason: entry.reason,
        details: entry.details ?? null,
        mail_from: entry.mail_from?.slice(0, 320) ?? null,
        rcpt_to: entry.rcpt_to.join(", "),
        remote_address: entry.remote_address?.slice(0, 64) ?? null,
        raw: entry.raw.subarray(0, MAX_KEPT_BYTES),
        raw_bytes: entry.raw.length,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Newest first. */
  async list(limit = 50): Promise<UnattributedBounceRecord[]> {
    return this.#router.read((db) =>
      db
        .selectFrom("email_unattributed_bounces")
        .selectAll()
        .orderBy("received_at", "desc")
        .orderBy("id", "desc")
        .limit(Math.min(Math.max(limit, 1), 1_000))
        .execute(),
    );
  }
}
