import { type Selectable, sql } from "kysely";
import type { DatabaseRouter } from "./database-router.ts";
import type { EmailTrackingTable } from "./schema.ts";

export type TrackingRecord = Selectable<EmailTrackingTable>;

interface NewTrackingEvent {
  job_id: string;
  provider?: string | null;
  message_id?: string | null;
  /** sent, delivered, opened, clicked, bounced, complained, deferred, dropped, failed. */
  status: string;
  sent_at?: Date | null;
  delivered_at?: Date | null;
  opened_at?: Date | null;
  clicked_at?: Date | null;
  error_message?: string | null;
  /** The provider's id for this event: the same event recorded twice is kept once. */
  event_id?: string | null;
  /** When it happened at the provider (events arrive out of order). */
  occurred_at?: Date | null;
  /** An open that was probably an image proxy or scanner, not a person. */
  machine_open?: boolean | null;
}

/** `email_tracking`: an append-only log of what happened to each tracked email. */
export class TrackingRepository {
  readonly #router: DatabaseRouter;

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  async append(event: NewTrackingEvent): Promise<TrackingRecord> {
    return this.#router.master
      .insertInto("email_tracking")
      .values({
        job_id: event.job_id,
        provider: event.provider ?? null,
        message_id: event.message_id ?? null,
        status: event.status,
        sent_at: event.sent_at ?? null,
        delivered_at: event.delivered_at ?? null,
        opened_at: event.opened_at ?? null,
        clicked_at: event.clicked_at ?? null,
        error_message: event.error_message ?? null,
        event_id: event.event_id ?? null,
        occurred_at: event.occurred_at ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /**
   * Records a provider event unless it was recorded before (same provider and event id); false for a
   * duplicate. The job must exist: fast-path jobs have no row to attach events to.
   */
  async appendOnce(event: NewTrackingEvent & { provider: string; event_id: string }): Promise<boolean> {
    const row = await this.#router.master
      .insertInto("email_tracking")
      .values({
        job_id: event.job_id,
        provider: event.provider,
        message_id: event.message_id ?? null,
        status: event.status,
        delivered_at: event.delivered_at ?? null,
        opened_at: event.opened_at ?? null,
        clicked_at: event.clicked_at ?? null,
        error_message: event.error_message ?? null,
        event_id: event.event_id,
        occurred_at: event.occurred_at ?? null,
        machine_open: event.machine_open ?? null,
      })
      .onConflict((oc) => oc.columns(["provider", "event_id"]).where("event_id", "is not", null).doNothing())
      .returning("id")
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Oldest first. */
  async listForJob(jobId: string): Promise<TrackingRecord[]> {
    return this.#router.read((db) =>
      db
        .selectFrom("email_tracking")
        .selectAll()
        .where("job_id", "=", jobId)
        .orderBy(sql`coalesce(occurred_at, created_at)`)
        .orderBy("id")
        .execute(),
    );
  }
}
