import { sql } from "kysely";
import type { DatabaseRouter } from "./database-router.ts";

const MINUTE_MS = 60_000;

/** The minutes `lastHour` answers for: the current one and the 59 before it. */
const HOUR_MINUTES = 60;

/** Emails finished in one minute, by the whole fleet. */
export interface ThroughputMinute {
  minute: Date;
  sent: number;
  failed: number;
}

/** The start of the minute `time` falls in (UTC minutes: every replica buckets alike). */
export function minuteOf(time: Date | number): Date {
  const ms = typeof time === "number" ? time : time.getTime();
  return new Date(Math.floor(ms / MINUTE_MS) * MINUTE_MS);
}

/**
 * `email_throughput_minutes`: per-minute counts every replica adds to, so any replica answers for
 * the fleet. Adding is one upsert: replicas adding to the same minute at once never lose a count.
 */
export class ThroughputRepository {
  readonly #router: DatabaseRouter;

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  /** Adds `counts` to `minute`'s row (its minute, whatever the seconds), creating it if needed. */
  async add(minute: Date, counts: { sent: number; failed: number }): Promise<void> {
    if (counts.sent === 0 && counts.failed === 0) return;
    await this.#router.master
      .insertInto("email_throughput_minutes")
      .values({ minute: minuteOf(minute), sent: counts.sent, failed: counts.failed })
      .onConflict((oc) =>
        oc.column("minute").doUpdateSet({
          sent: sql<number>`email_throughput_minutes.sent + excluded.sent`,
          failed: sql<number>`email_throughput_minutes.failed + excluded.failed`,
        }),
      )
      .execute();
  }

  /**
   * The 60 minutes ending with `now`'s, oldest first, minutes nobody added to as zeros. Read from
   * the replica: a chart can be a few seconds behind.
   */
  async lastHour(now: Date): Promise<ThroughputMinute[]> {
    const last = minuteOf(now).getTime();
    const first = last - (HOUR_MINUTES - 1) * MINUTE_MS;
    const rows = await this.#router.read((db) =>
      db
        .selectFrom("email_throughput_minutes")
        .select(["minute", "sent", "failed"])
        .where("minute", ">=", new Date(first))
        .where("minute", "<=", new Date(last))
        .execute(),
    );
    // BIGINT comes back as a string (node-postgres) or a number (PGlite).
    const byMinute = new Map(
      rows.map((row) => [
        new Date(row.minute).getTime(),
        { sent: Number(row.sent), failed: Number(row.failed) },
      ]),
    );
    return Array.from({ length: HOUR_MINUTES }, (_, i) => {
      const minute = first + i * MINUTE_MS;
      return { minute: new Date(minute), ...(byMinute.get(minute) ?? { sent: 0, failed: 0 }) };
    });
  }

  /** Deletes the minutes before `before`; returns how many rows went. */
  async deleteBefore(before: Date): Promise<number> {
    const result = await this.#router.master
      .deleteFrom("email_throughput_minutes")
      .where("minute", "<", before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
