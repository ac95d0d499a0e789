import { type Kysely, type Selectable, sql, type Transaction } from "kysely";
import type { CampaignStatus } from "../campaign/campaign-status.ts";
import { KindedError } from "../errors/error-kind.ts";
import type { EmailJob, JsonValue } from "../job/email-job.ts";
import type { DatabaseRouter, ReadOptions } from "./database-router.ts";
import { type CampaignJobFields, type CampaignRecipientFields, campaignRecipientJob } from "./job-mapping.ts";
import { decodeCursor, keysetPage } from "./keyset-cursor.ts";
import { type Database, type EmailCampaignTable, toJson } from "./schema.ts";

type CampaignRow = Selectable<EmailCampaignTable>;

const COUNTERS = [
  "total",
  "duplicates",
  "invalid",
  "excluded",
  "dispatched",
  "sent",
  "failed",
  "suppressed",
  "cancelled",
  "delivered",
  "bounced",
  "complained",
  "opened",
  "clicked",
  "unsubscribed",
  "next_seq",
  "window_count",
  "previous_window_count",
] as const;

type Counter = (typeof COUNTERS)[number];

/** A campaign as stored, its BIGINT counters read as numbers. */
export type CampaignRecord = Omit<CampaignRow, Counter | "status"> & {
  status: CampaignStatus;
} & Record<Counter, number>;

export interface NewCampaign {
  id?: string;
  name: string;
  job_type: string;
  template_id: string;
  subject: string | null;
  template_data: Record<string, JsonValue>;
  from_email: string | null;
  from_name: string | null;
  reply_to: string | null;
  reply_to_name: string | null;
  headers: Record<string, string> | null;
  provider: string | null;
  priority: number;
  max_retries: number;
  tags: readonly string[];
  tracked: boolean;
  rate_limit: number | null;
  scheduled_at: Date | null;
}

export interface CampaignListFilter {
  status?: readonly CampaignStatus[];
  job_type?: string;
  /** Campaigns carrying this tag. */
  tag?: string;
  /** At most 500; 50 when absent. */
  limit?: number;
  cursor?: string;
}

export interface CampaignPage {
  campaigns: CampaignRecord[];
  next_cursor: string | undefined;
}

export interface RecipientRow {
  email: string;
  name?: string | undefined;
  template_data: Record<string, JsonValue>;
}

/** What one page of an upload did to the audience. */
export interface AddedRecipients {
  /** The campaign's job type (its metrics' label). */
  job_type: string;
  added: number;
  /** Addresses the campaign already had (or that came twice in this page): merged, not added. */
  duplicates: number;
  /** Added, and on the suppression list: counted, never dispatched. */
  suppressed: number;
}

/** What one dispatch slice did. */
export interface DispatchedSlice {
  /** A tracked campaign's jobs it stored, to be published. */
  jobs: { id: string; priority: number }[];
  /** An untracked campaign's jobs it put on the queue (parked recipients sent again included). */
  published: number;
  /** Recipients read (suppressed ones included). */
  read: number;
  /** The campaign ended with this slice: nothing left to dispatch and every job has ended. */
  completed: boolean;
}

const SUMMED = [
  "total",
  "excluded",
  "dispatched",
  "sent",
  "failed",
  "suppressed",
  "cancelled",
  "bounced",
  "complained",
  "opened",
  "clicked",
  "unsubscribed",
] as const satisfies readonly Counter[];

/** Campaigns of one job type and status, their counters summed. */
export type CampaignSummary = { job_type: string; status: CampaignStatus; campaigns: number } & Record<
  (typeof SUMMED)[number],
  number
>;

/** The campaign is not in a state that allows what was asked (adding recipients to an ended one). */
export class CampaignStateError extends KindedError<"failed_precondition"> {
  override readonly name = "CampaignStateError";
  readonly status: CampaignStatus;

  constructor(message: string, status: CampaignStatus) {
    super("failed_precondition", message, { code: "campaign_state" });
    this.status = status;
  }
}

const MAX_PAGE = 500;

/**
 * Puts an untracked campaign's jobs on the queue while the slice's transaction `trx` is open (a
 * queue in the same database may publish inside it).
 */
export type UntrackedPublisher = (jobs: EmailJob[], trx: Kysely<Database>) => Promise<void>;

/** The campaign stopped running while a slice was being dispatched: the slice is undone. */
class StoppedMeanwhile extends Error {}

/**
 * Takes the campaign's dispatch lock for the rest of the transaction: one dispatch or upload at a
 * time per campaign. Without `wait`, false when another holds it.
 */
async function lockDispatch(
  trx: Transaction<Database>,
  id: string,
  { wait }: { wait: boolean },
): Promise<boolean> {
  const key = `email_campaign_dispatch:${id}`;
  if (wait) {
    await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx);
    return true;
  }
  const { rows } = await sql<{ locked: boolean }>`
    select pg_try_advisory_xact_lock(hashtextextended(${key}, 0)) as locked`.execute(trx);
  return rows[0]?.locked === true;
}

function toRecord(row: CampaignRow): CampaignRecord {
  const record = { ...row } as unknown as CampaignRecord;
  for (const counter of COUNTERS) record[counter] = Number(row[counter]);
  return record;
}

/**
 * `email_campaigns` and their audiences. Counters of job outcomes are moved by triggers on the jobs
 * (see migration 011), in the transaction that changes the job: this class reads them, and moves
 * only the audience and dispatch counters.
 */
export class CampaignRepository {
  readonly #router: DatabaseRouter;

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  async create(campaign: NewCampaign, status: CampaignStatus = "draft"): Promise<CampaignRecord> {
    const row = await this.#router.master
      .insertInto("email_campaigns")
      .values({
        ...campaign,
        status,
        template_data: JSON.stringify(campaign.template_data),
        headers: toJson(campaign.headers),
        tags: [...campaign.tags],
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  async get(id: string, options: ReadOptions = {}): Promise<CampaignRecord | undefined> {
    const query = (db: Kysely<Database>) =>
      db.selectFrom("email_campaigns").selectAll().where("id", "=", id).executeTakeFirst();
    const row =
      options.consistency === "strong" ? await query(this.#router.master) : await this.#router.read(query);
    return row && toRecord(row);
  }

  /** Newest first, by keyset on (created_at, id). */
  async list(filter: CampaignListFilter = {}): Promise<CampaignPage> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), MAX_PAGE);
    const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
    const rows = await this.#router.read((db) => {
      let query = db
        .selectFrom("email_campaigns")
        .selectAll()
        .select(sql<string>`created_at::text`.as("cursor_created_at"));
      if (filter.status?.length) query = query.where("status", "in", [...filter.status]);
      if (filter.job_type !== undefined) query = query.where("job_type", "=", filter.job_type);
      if (filter.tag !== undefined) query = query.where(sql<boolean>`tags @> ${[filter.tag]}::text[]`);
      if (after)
        query = query.where(
          sql<boolean>`(created_at, id) < (${after.created_at}::timestamptz, ${after.id}::uuid)`,
        );
      return query
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(limit + 1)
        .execute();
    });
    const page = keysetPage(rows, limit);
    return { campaigns: page.rows.map(toRecord), next_cursor: page.next_cursor };
  }

  /**
   * Adds one page of recipients, in one transaction holding the campaign's row: addresses it
   * already has are merged (the first row wins), suppressed ones are stored flagged, and `invalid`
   * (rows the caller refused) is counted. Undefined when there is no such campaign.
   */
  async addRecipients(
    id: string,
    recipients: readonly RecipientRow[],
    invalid: number,
  ): Promise<AddedRecipients | undefined> {
    return this.#router.master.transaction().execute(async (trx) => {
      // The dispatch lock orders this upload's seq values before any dispatch that comes after it
      // (a dispatch must never pass a seq still uncommitted); taken before the row, as dispatch does.
      await lockDispatch(trx, id, { wait: true });
      const campaign = await trx
        .selectFrom("email_campaigns")
        .select(["status", "job_type"])
        .where("id", "=", id)
        .forUpdate()
        .executeTakeFirst();
      if (!campaign) return undefined;
      const status = campaign.status as CampaignStatus;
      if (status === "completed" || status === "cancelled")
        throw new CampaignStateError(`campaign ${id} is ${status}: it takes no more recipients`, status);
      let added = 0;
      let suppressed = 0;
      if (recipients.length > 0) {
        const { rows } = await sql<{ suppressed: boolean }>`
          insert into email_campaign_recipients (campaign_id, email, name, template_data, suppressed)
          select ${id}::uuid, r.email, r.name, r.data,
                 exists (select 1 from email_suppressions s where s.email = lower(r.email))
          from unnest(${recipients.map((r) => r.email)}::text[], ${recipients.map((r) => r.name ?? null)}::text[],
                      ${recipients.map((r) => (Object.keys(r.template_data).length > 0 ? JSON.stringify(r.template_data) : null))}::jsonb[])
               with ordinality as r(email, name, data, n)
          order by r.n
          on conflict (campaign_id, lower(email)) do nothing
          returning suppressed`.execute(trx);
        added = rows.length;
        suppressed = rows.filter((row) => row.suppressed).length;
      }
      const duplicates = recipients.length - added;
      await trx
        .updateTable("email_campaigns")
        .set({
          total: sql<number>`total + ${added}`,
          duplicates: sql<number>`duplicates + ${duplicates}`,
          excluded: sql<number>`excluded + ${suppressed}`,
          invalid: sql<number>`invalid + ${invalid}`,
          updated_at: sql<Date>`now()`,
        })
        .where("id", "=", id)
        .execute();
      return { job_type: campaign.job_type, added, duplicates, suppressed };
    });
  }

  /**
   * Moves the campaign from one of `from` to `to`; undefined when it was in none of them (or does
   * not exist). Leaving running or paused for good stamps `finished_at`; starting stamps `started_at`.
   */
  async transition(
    id: string,
    from: readonly CampaignStatus[],
    to: CampaignStatus,
    changes: { scheduled_at?: Date | null } = {},
  ): Promise<CampaignRecord | undefined> {
    const row = await this.#router.master
      .updateTable("email_campaigns")
      .set({
        ...changes,
        status: to,
        updated_at: sql<Date>`now()`,
        ...(to === "running" && { started_at: sql<Date>`coalesce(started_at, now())` }),
        ...((to === "completed" || to === "cancelled") && { finished_at: sql<Date>`now()` }),
      })
      .where("id", "=", id)
      .where("status", "in", [...from])
      .returningAll()
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * Starts every scheduled campaign whose time has come; safe on many replicas at once (each
   * campaign is started by one). Returns them with how late each started.
   */
  async startDue(): Promise<{ id: string; job_type: string; late_ms: number }[]> {
    const { rows } = await sql<{ id: string; job_type: string; late_ms: number }>`
      update email_campaigns
      set status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
      where status = 'scheduled' and scheduled_at <= now()
      returning id, job_type,
        (extract(epoch from (now() - scheduled_at)) * 1000)::float8 as late_ms`.execute(this.#router.master);
    return rows.map((row) => ({ ...row, late_ms: Number(row.late_ms) }));
  }

  /**
   * Per job type and status: how many campaigns, and their counters summed (for the metrics). Read
   * from the replica: one grouped scan of the campaigns, never of their recipients.
   */
  async summary(): Promise<CampaignSummary[]> {
    const rows = await this.#router.read((db) =>
      db
        .selectFrom("email_campaigns")
        .select(["job_type", "status"])
        .select((eb) => [
          eb.fn.countAll<string | number>().as("campaigns"),
          ...SUMMED.map((counter) => eb.fn.sum<string | number>(counter).as(counter)),
        ])
        .groupBy(["job_type", "status"])
        .execute(),
    );
    return rows.map((row) => {
      const summary = { job_type: row.job_type, status: row.status as CampaignStatus } as CampaignSummary;
      summary.campaigns = Number(row.campaigns);
      for (const counter of SUMMED) summary[counter] = Number(row[counter] ?? 0);
      return summary;
    });
  }

  /** Running campaigns, oldest start first, for dispatch. */
  async running(): Promise<{ id: string; priority: number; job_type: string }[]> {
    return this.#router.master
      .selectFrom("email_campaigns")
      .select(["id", "priority", "job_type"])
      .where("status", "=", "running")
      .orderBy("started_at")
      .execute();
  }

  /**
   * Turns up to `max` of a running campaign's next recipients into jobs, within its rate limit, and
   * marks the campaign completed once nothing is left to dispatch and every job has ended. A tracked
   * campaign's jobs are stored and returned, to be published after the commit (the reconciler
   * publishes any the caller fails to). An untracked campaign's jobs exist only as queue messages:
   * `publishUntracked` puts them on the queue before the commit, so a failed publish dispatches
   * nothing; its parked recipients (see CampaignOutcomeRepository) go out again first. Undefined
   * when the campaign is not running or another replica is dispatching it right now.
   *
   * One dispatch per campaign at a time is kept by a transaction-scoped advisory lock, not the
   * campaign's row: every job that ends moves the row's counters, and holding the row while a
   * thousand jobs are written would hold up every one of them. The row is written last, only if
   * the campaign still runs (a pause or cancel meanwhile undoes the slice).
   */
  async dispatchSlice(
    id: string,
    max: number,
    publishUntracked?: UntrackedPublisher,
  ): Promise<DispatchedSlice | undefined> {
    try {
      return await this.#router.master
        .transaction()
        .execute((trx) => this.#dispatchSlice(trx, id, max, publishUntracked));
    } catch (error) {
      if (error instanceof StoppedMeanwhile) return undefined;
      throw error;
    }
  }

  async #dispatchSlice(
    trx: Transaction<Database>,
    id: string,
    max: number,
    publishUntracked: UntrackedPublisher | undefined,
  ): Promise<DispatchedSlice | undefined> {
    if (!(await lockDispatch(trx, id, { wait: false }))) return undefined;
    const { rows } = await sql<
      CampaignJobFields & {
        tracked: boolean;
        next_seq: string | number;
        rate_limit: number | null;
        credit: number;
        queued: string | number;
      }
    >`
      select id, job_type, template_id, subject, from_email, from_name, reply_to, reply_to_name,
             headers, provider, priority, max_retries, tags, tracked, next_seq, rate_limit,
             case when rate_limit is null then 0
                  else least(greatest(rate_limit, 1),
                             dispatch_credit + rate_limit * extract(epoch from (now() - coalesce(credit_at, now()))))
             end::float8 as credit,
             dispatched - sent - failed - suppressed - cancelled as queued
      from email_campaigns where id = ${id} and status = 'running'`.execute(trx);
    const campaign = rows[0];
    if (!campaign) return undefined;
    const allowed = campaign.rate_limit === null ? max : Math.min(max, Math.floor(campaign.credit));
    const nextSeq = Number(campaign.next_seq);
    const parked = campaign.tracked || allowed <= 0 ? [] : await this.#parkedRecipients(trx, id, allowed);
    const fresh = allowed - parked.length;
    const last =
      fresh <= 0
        ? undefined
        : (
            await sql<{ seq: string | number | null; read: string | number }>`
              select max(seq) as seq, count(*) as read from (
                select seq from email_campaign_recipients
                where campaign_id = ${id} and seq >= ${nextSeq}
                order by seq limit ${fresh}) picked`.execute(trx)
          ).rows[0];
    const read = Number(last?.read ?? 0);
    let jobs: { id: string; priority: number }[] = [];
    let untracked: EmailJob[] = [];
    if (campaign.tracked) {
      if (read > 0) jobs = await this.#createJobs(trx, id, nextSeq, Number(last?.seq));
    } else if (read > 0 || parked.length > 0) {
      if (!publishUntracked) throw new Error(`campaign ${id} is untracked: dispatching it needs a publisher`);
      const recipients = await this.#recipientsToSend(
        trx,
        id,
        read > 0 ? [nextSeq, Number(last?.seq)] : undefined,
        parked,
      );
      untracked = recipients.map((recipient) => campaignRecipientJob(campaign, recipient));
    }
    const dispatched = campaign.tracked ? jobs.length : untracked.length - parked.length;
    // Nothing read: either nothing is left, or nothing was allowed (no room, no rate credit).
    const audienceDone =
      read === 0 &&
      (fresh > 0 ||
        (
          await sql<{ left: boolean }>`
            select exists (select 1 from email_campaign_recipients
                           where campaign_id = ${id} and seq >= ${nextSeq}) as left`.execute(trx)
        ).rows[0]?.left === false);
    // Only dispatch adds jobs, and it holds the lock: a campaign with none left queued stays so.
    const completed = audienceDone && parked.length === 0 && Number(campaign.queued) === 0;
    const written = await trx
      .updateTable("email_campaigns")
      .set({
        ...(read > 0 && { next_seq: Number(last?.seq) + 1 }),
        dispatched: sql<number>`dispatched + ${dispatched}`,
        ...(campaign.rate_limit !== null && {
          dispatch_credit: campaign.credit - (allowed <= 0 ? 0 : read + parked.length),
          credit_at: sql<Date>`now()`,
        }),
        ...(completed && { status: "completed", finished_at: sql<Date>`now()` }),
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", id)
      .where("status", "=", "running")
      .executeTakeFirst();
    if (written.numUpdatedRows === 0n) throw new StoppedMeanwhile();
    if (untracked.length > 0) {
      if (parked.length > 0)
        await sql`
          update email_campaign_recipients set outcome = null
          where campaign_id = ${id} and seq = any(${parked}::bigint[]) and outcome = 'parked'`.execute(trx);
      // Last: once on the queue they go out, so nothing after this may undo the slice.
      await publishUntracked?.(untracked, trx);
    }
    return { jobs, published: untracked.length, read, completed };
  }

  /** Seqs of an untracked campaign's recipients parked while it was paused, oldest first. */
  async #parkedRecipients(trx: Transaction<Database>, id: string, max: number): Promise<number[]> {
    const { rows } = await sql<{ seq: string | number }>`
      select seq from email_campaign_recipients
      where campaign_id = ${id} and outcome = 'parked'
      order by seq limit ${max}`.execute(trx);
    return rows.map((row) => Number(row.seq));
  }

  /**
   * The recipients an untracked campaign sends to now: the unsuppressed ones with seq in `range`,
   * and the parked ones, each with its data merged over the campaign's.
   */
  async #recipientsToSend(
    trx: Transaction<Database>,
    id: string,
    range: [number, number] | undefined,
    parked: number[],
  ): Promise<CampaignRecipientFields[]> {
    const [from, to] = range ?? [0, -1];
    const { rows } = await sql<CampaignRecipientFields & { seq: string | number }>`
      select r.seq, r.email, r.name, c.template_data || coalesce(r.template_data, '{}'::jsonb) as template_data
      from email_campaign_recipients r join email_campaigns c on c.id = r.campaign_id
      where r.campaign_id = ${id} and not r.suppressed
        and (r.seq between ${from} and ${to} or r.seq = any(${parked}::bigint[]))
      order by r.seq`.execute(trx);
    return rows.map((row) => ({ ...row, seq: Number(row.seq) }));
  }

  /** One job per unsuppressed recipient with seq in [from, to], its data merged over the campaign's. */
  async #createJobs(
    trx: Transaction<Database>,
    id: string,
    from: number,
    to: number,
  ): Promise<{ id: string; priority: number }[]> {
    const { rows } = await sql<{ id: string; priority: number }>`
      insert into email_jobs (job_type, recipient_email, recipient_name, subject, template_id,
        template_data, from_email, from_name, reply_to, reply_to_name, headers, provider, priority,
        max_retries, tags, campaign_id)
      select c.job_type, r.email, r.name, c.subject, c.template_id,
        c.template_data || coalesce(r.template_data, '{}'::jsonb), c.from_email, c.from_name,
        c.reply_to, c.reply_to_name, c.headers, c.provider, c.priority, c.max_retries, c.tags, c.id
      from email_campaign_recipients r join email_campaigns c on c.id = r.campaign_id
      where r.campaign_id = ${id} and r.seq between ${from} and ${to} and not r.suppressed
      order by r.seq
      returning id, priority`.execute(trx);
    return rows;
  }

  /**
   * Cancels the campaign's jobs that have not been handed to a provider (pending, retrying), and
   * returns how many. Run after the campaign is marked cancelled: no worker claims them meanwhile.
   */
  async cancelJobs(id: string): Promise<number> {
    // An untracked campaign's parked recipients: no message of theirs is left on the queue.
    const { rows } = await sql<{ cancelled: string | number }>`
      with cancelled as (
        update email_campaign_recipients set outcome = 'cancelled'
        where campaign_id = ${id} and outcome = 'parked'
        returning 1)
      select count(*) as cancelled from cancelled`.execute(this.#router.master);
    const parked = Number(rows[0]?.cancelled ?? 0);
    if (parked > 0)
      await sql`select email_campaign_count(${id}::uuid, 0, 0, 0, ${parked}::bigint)`.execute(
        this.#router.master,
      );
    const result = await this.#router.master
      .updateTable("email_jobs")
      .set({ status: "cancelled", locked_until: null, next_attempt_at: null, updated_at: sql<Date>`now()` })
      .where("campaign_id", "=", id)
      .where((eb) =>
        eb.or([
          eb("status", "in", ["pending", "retrying"]),
          // Claimed by a worker that died: nothing sends it now, and no claim on it will succeed.
          eb.and([eb("status", "=", "processing"), eb("locked_until", "<", sql<Date>`now()`)]),
        ]),
      )
      .executeTakeFirst();
    return parked + Number(result.numUpdatedRows);
  }

  /**
   * The campaign's jobs a worker put aside while it was paused (see JobRepository.park), taken for
   * publishing again now that it runs.
   */
  async takeParkedJobs(id: string): Promise<{ id: string; priority: number }[]> {
    const { rows } = await sql<{ id: string; priority: number }>`
      update email_jobs set enqueued_at = now(), updated_at = now()
      where campaign_id = ${id} and status = 'pending' and enqueued_at is null
      returning id, priority`.execute(this.#router.master);
    return rows;
  }
}
