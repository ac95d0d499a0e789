import { type Selectable, sql } from "kysely";
import type { DatabaseRouter } from "./database-router.ts";
import type { EmailCampaignScheduleTable } from "./schema.ts";

type ScheduleRow = Selectable<EmailCampaignScheduleTable>;

/** A schedule as stored, its run count read as a number. */
export type CampaignScheduleRecord = Omit<ScheduleRow, "runs"> & { runs: number };

export interface NewCampaignSchedule {
  name: string;
  blueprint_id: string;
  cron: string;
  timezone: string;
  next_run_at: Date;
}

/** One occurrence started: the campaign it made, and how late it started. */
export interface ScheduledRun {
  schedule_id: string;
  campaign_id: string;
  job_type: string;
  late_ms: number;
}

function toRecord(row: ScheduleRow): CampaignScheduleRecord {
  return { ...row, runs: Number(row.runs) };
}

/**
 * `email_campaign_schedules`: recurring campaigns. A due schedule is taken under its row lock (SKIP
 * LOCKED: one replica per occurrence), moved on to its next time and its run made in the same
 * transaction, so an occurrence is started once, even by replicas polling together or after a
 * restart.
 */
export class CampaignScheduleRepository {
  readonly #router: DatabaseRouter;

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  async create(schedule: NewCampaignSchedule): Promise<CampaignScheduleRecord> {
    const row = await this.#router.master
      .insertInto("email_campaign_schedules")
      .values(schedule)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  async list(): Promise<CampaignScheduleRecord[]> {
    const rows = await this.#router.read((db) =>
      db
        .selectFrom("email_campaign_schedules")
        .selectAll()
        .orderBy("created_at", "desc")
        .limit(500)
        .execute(),
    );
    return rows.map(toRecord);
  }

  async get(id: string): Promise<CampaignScheduleRecord | undefined> {
    const row = await this.#router.master
      .selectFrom("email_campaign_schedules")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#router.master
      .deleteFrom("email_campaign_schedules")
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * Starts the run of one due schedule, if any: a running copy of its blueprint (content, options,
   * and the audience, suppressed addresses counted again as of now), and moves the schedule to
   * `nextRunAt(schedule)`. Occurrences missed while no replica ran make one run, not one each.
   */
  async startDueRun(
    nextRunAt: (schedule: CampaignScheduleRecord) => Date,
  ): Promise<ScheduledRun | undefined> {
    return this.#router.master.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom("email_campaign_schedules")
        .selectAll()
        .where("next_run_at", "<=", sql<Date>`now()`)
        .orderBy("next_run_at")
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!due) return undefined;
      const schedule = toRecord(due);
      const { rows } = await sql<{ id: string; job_type: string; late_ms: number }>`
        insert into email_campaigns (name, job_type, status, template_id, subject, template_data,
          from_email, from_name, reply_to, reply_to_name, headers, provider, priority, max_retries,
          tags, tracked, rate_limit, scheduled_at, started_at, schedule_id)
        select left(b.name || ' ' || to_char(${schedule.next_run_at}::timestamptz at time zone 'UTC', 'YYYY-MM-DD HH24:MI"Z"'), 255),
          b.job_type, 'running', b.template_id, b.subject, b.template_data, b.from_email, b.from_name,
          b.reply_to, b.reply_to_name, b.headers, b.provider, b.priority, b.max_retries, b.tags,
          b.tracked, b.rate_limit, ${schedule.next_run_at}, now(), ${schedule.id}
        from email_campaigns b where b.id = ${schedule.blueprint_id}
        returning id, job_type,
          (extract(epoch from (now() - ${schedule.next_run_at}::timestamptz)) * 1000)::float8 as late_ms`.execute(
        trx,
      );
      const run = rows[0];
      if (!run) return undefined;
      // Counted in the database: an audience of millions never comes through this process.
      await sql`
        with copied as (
          insert into email_campaign_recipients (campaign_id, email, name, template_data, suppressed)
          select ${run.id}::uuid, r.email, r.name, r.template_data,
                 exists (select 1 from email_suppressions s where s.email = lower(r.email))
          from email_campaign_recipients r
          where r.campaign_id = ${schedule.blueprint_id}
          order by r.seq
          returning suppressed)
        update email_campaigns set
          total = (select count(*) from copied),
          excluded = (select count(*) from copied where suppressed)
        where id = ${run.id}`.execute(trx);
      await trx
        .updateTable("email_campaign_schedules")
        .set({
          next_run_at: nextRunAt(schedule),
          last_run_at: sql<Date>`now()`,
          last_campaign_id: run.id,
          runs: sql<number>`runs + 1`,
        })
        .where("id", "=", schedule.id)
        .execute();
      return {
        schedule_id: schedule.id,
        campaign_id: run.id,
        job_type: run.job_type,
        late_ms: Number(run.late_ms),
      };
    });
  }
}
