import { type Kysely, type RawBuilder, type Selectable, sql } from "kysely";
import type { JsonValue } from "../job/email-job.ts";
import { CANCELLABLE_STATUSES, CLAIMABLE_STATUSES, type JobStatus } from "../job/status.ts";
import type { DatabaseRouter, ReadOptions } from "./database-router.ts";
import { ConflictError, isUniqueViolation } from "./errors.ts";
import { decodeCursor, keysetPage } from "./keyset-cursor.ts";
import { type Database, type EmailJobTable, toJson } from "./schema.ts";
import { StatementBatcher } from "./statement-batcher.ts";

export type EmailJobRecord = Selectable<EmailJobTable>;

export interface NewEmailJob {
  id?: string;
  job_type: string;
  recipient_email: string;
  recipient_name?: string | null;
  subject?: string | null;
  template_id?: string | null;
  template_data?: JsonValue | null;
  html_body?: string | null;
  text_body?: string | null;
  from_email?: string | null;
  from_name?: string | null;
  reply_to?: string | null;
  reply_to_name?: string | null;
  headers?: Record<string, string> | null;
  attachments?: JsonValue | null;
  priority?: number;
  max_retries?: number;
  scheduled_at?: Date | null;
  provider?: string | null;
  idempotency_key?: string | null;
  metadata?: JsonValue | null;
  cc?: JsonValue | null;
  bcc?: JsonValue | null;
  tags?: readonly string[];
  sandbox?: boolean;
  batch_id?: string | null;
}

export interface JobListFilter {
  status?: readonly JobStatus[];
  /** Jobs of this batch (SendBatch's batch_id). */
  batch_id?: string;
  /** Jobs this campaign made. */
  campaign_id?: string;
  /** Jobs carrying every one of these tags. */
  tags?: readonly string[];
  job_type?: string;
  recipient_email?: string;
  created_after?: Date;
  created_before?: Date;
  /** At most 500; 50 when absent. */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

export interface JobPage {
  jobs: EmailJobRecord[];
  /** Absent on the last page. */
  next_cursor: string | undefined;
}

interface LostJob {
  id: string;
  priority: number;
  scheduled_at: Date | null;
}

export type CancelOutcome =
  | { outcome: "cancelled"; job: EmailJobRecord }
  | { outcome: "not_found" }
  | { outcome: "not_cancellable"; job: EmailJobRecord };

const MAX_PAGE = 500;

interface TransitionChanges {
  error_message?: string | null;
  next_attempt_at?: Date | null;
  retry_count?: number | RawBuilder<number>;
  sent_at?: RawBuilder<Date>;
  provider?: string;
}

/**
 * Tracked jobs (`email_jobs`). Writes and claims go to the master, lists and lookups to the replica
 * unless the caller asks for strong consistency.
 */
/**
 * Jobs carrying every one of `tags` (at least one): containment, which the GIN index on tags serves.
 * That index holds tagged jobs only, so the filter says so too; containing a tag implies it, but the
 * planner cannot tell.
 */
export function tagFilter(tags: readonly string[]): RawBuilder<boolean> {
  return sql<boolean>`tags @> ${[...tags]}::text[] and tags <> '{}'`;
}

export class JobRepository {
  readonly #router: DatabaseRouter;

  /** Claims and "sent" marks from concurrent jobs, one statement per batch (see StatementBatcher). */
  readonly #claims = new StatementBatcher<{ id: string; leaseMs: number }, EmailJobRecord | undefined>(
    (inputs) => this.#claimMany(inputs),
  );
  readonly #sentMarks = new StatementBatcher<{ id: string; provider: string; messageId: string }, boolean>(
    (inputs) => this.#markSentMany(inputs),
  );

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  async create(job: NewEmailJob): Promise<EmailJobRecord> {
    try {
      return await this.#router.master
        .insertInto("email_jobs")
        .values({
          ...(job.id !== undefined && { id: job.id }),
          job_type: job.job_type,
          recipient_email: job.recipient_email,
          recipient_name: job.recipient_name ?? null,
          subject: job.subject ?? null,
          template_id: job.template_id ?? null,
          template_data: toJson(job.template_data),
          html_body: job.html_body ?? null,
          text_body: job.text_body ?? null,
          from_email: job.from_email ?? null,
          from_name: job.from_name ?? null,
          reply_to: job.reply_to ?? null,
          reply_to_name: job.reply_to_name ?? null,
          headers: toJson(job.headers),
          attachments: toJson(job.attachments),
          priority: job.priority ?? 0,
          max_retries: job.max_retries ?? 3,
          scheduled_at: job.scheduled_at ?? null,
          provider: job.provider ?? null,
          idempotency_key: job.idempotency_key ?? null,
          metadata: toJson(job.metadata),
          cc: toJson(job.cc),
          bcc: toJson(job.bcc),
          tags: [...(job.tags ?? [])],
          sandbox: job.sandbox ?? false,
          batch_id: job.batch_id ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`email job ${job.id} already exists`);
      throw error;
    }
  }

  async get(id: string, options: ReadOptions = {}): Promise<EmailJobRecord | undefined> {
    const query = (db: Kysely<Database>) =>
      db.selectFrom("email_jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return options.consistency === "strong" ? query(this.#router.master) : this.#router.read(query);
  }

  /** Whether a tracked job has this id, read on the master (a primary-key lookup, no columns). */
  async exists(id: string): Promise<boolean> {
    const row = await this.#router.master
      .selectFrom("email_jobs")
      .select((eb) => eb.lit(1).as("one"))
      .where("id", "=", id)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The newest tracked job sent with this idempotency key, read on the master (it may be new). */
  async idForIdempotencyKey(key: string): Promise<string | undefined> {
    const row = await this.#router.master
      .selectFrom("email_jobs")
      .select("id")
      .where("idempotency_key", "=", key)
      .orderBy("created_at", "desc")
      .limit(1)
      .executeTakeFirst();
    return row?.id;
  }

  /** Newest first, by keyset on (created_at, id): stable while rows are being added. */
  async list(filter: JobListFilter = {}): Promise<JobPage> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), MAX_PAGE);
    const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
    const rows = await this.#router.read((db) => {
      let query = db
        .selectFrom("email_jobs")
        .selectAll()
        .select(sql<string>`created_at::text`.as("cursor_created_at"));
      if (filter.status?.length) query = query.where("status", "in", [...filter.status]);
      if (filter.job_type !== undefined) query = query.where("job_type", "=", filter.job_type);
      if (filter.batch_id !== undefined) query = query.where("batch_id", "=", filter.batch_id);
      if (filter.campaign_id !== undefined) query = query.where("campaign_id", "=", filter.campaign_id);
      if (filter.tags?.length) query = query.where(tagFilter(filter.tags));
      if (filter.recipient_email !== undefined)
        query = query.where(sql`lower(recipient_email)`, "=", filter.recipient_email.toLowerCase());
      if (filter.created_after) query = query.where("created_at", ">=", filter.created_after);
      if (filter.created_before) query = query.where("created_at", "<", filter.created_before);
      if (after) {
        query = query.where(
          sql<boolean>`(created_at, id) < (${after.created_at}::timestamptz, ${after.id}::uuid)`,
        );
      }
      return query
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(limit + 1)
        .execute();
    });
    const page = keysetPage(rows, limit);
    return { jobs: page.rows, next_cursor: page.next_cursor };
  }

  /**
   * Takes the job for sending: only one worker can win, so a redelivered queue message never sends
   * twice. A claim whose lease ran out (its worker died) can be taken over.
   */
  claim(id: string, leaseMs: number): Promise<EmailJobRecord | undefined> {
    return this.#claims.call({ id, leaseMs });
  }

  async #claimMany(inputs: { id: string; leaseMs: number }[]): Promise<(EmailJobRecord | undefined)[]> {
    const claimed = new Map<string, EmailJobRecord>();
    // One lease per statement; in practice every caller asks for the same one.
    for (const leaseMs of new Set(inputs.map((i) => i.leaseMs))) {
      const ids = [...new Set(inputs.filter((i) => i.leaseMs === leaseMs).map((i) => i.id))];
      const rows = await this.#router.master
        .updateTable("email_jobs")
        .set({
          status: "processing",
          locked_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})`,
          updated_at: sql<Date>`now()`,
        })
        .where("id", "in", ids)
        .where((eb) =>
          eb.or([
            eb("status", "in", [...CLAIMABLE_STATUSES]),
            eb.and([eb("status", "=", "processing"), eb("locked_until", "<", sql<Date>`now()`)]),
          ]),
        )
        // A campaign's job is sent only while its campaign runs: a pause stops sends at once.
        .where(
          sql<boolean>`(campaign_id is null or exists (
            select 1 from email_campaigns c where c.id = email_jobs.campaign_id and c.status = 'running'))`,
        )
        .returningAll()
        .execute();
      for (const row of rows) claimed.set(row.id, row);
    }
    // The same id twice in one batch (a message delivered twice at once): only one caller wins.
    return inputs.map((i) => {
      const row = claimed.get(i.id);
      claimed.delete(i.id);
      return row;
    });
  }

  /**
   * Marks the job sent and records the `sent` event with the provider's message id, in one
   * statement: one round trip on the hot path, and never one without the other.
   */
  markSentWithEvent(id: string, provider: string, messageId: string): Promise<boolean> {
    return this.#sentMarks.call({ id, provider, messageId });
  }

  async #markSentMany(inputs: { id: string; provider: string; messageId: string }[]): Promise<boolean[]> {
    const { rows } = await sql<{ id: string }>`
      with input as (
        select * from unnest(
          ${inputs.map((i) => i.id)}::uuid[], ${inputs.map((i) => i.provider)}::text[],
          ${inputs.map((i) => i.messageId)}::text[]
        ) with ordinality as t(id, provider, message_id, n)
      ),
      sent as (
        -- The row names the provider that sent it (the job may have asked for none, or failed over).
        update email_jobs e
        set status = 'sent', sent_at = now(), error_message = null, locked_until = null,
            next_attempt_at = null, updated_at = now(), provider = first.provider
        from (select distinct on (id) id, provider from input order by id, n) first
        where e.id = first.id and e.status = 'processing'
        returning e.id
      )
      insert into email_tracking (job_id, provider, message_id, status, sent_at)
      select distinct on (input.id) input.id, input.provider, input.message_id, 'sent', now()
      from input join sent on sent.id = input.id
      order by input.id, input.n
      returning job_id::text as id`.execute(this.#router.master);
    // The same id twice in one batch: the first caller's event is the one recorded, and it wins.
    const marked = new Set(rows.map((r) => r.id));
    return inputs.map((i) => {
      const won = marked.has(i.id);
      marked.delete(i.id);
      return won;
    });
  }

  /** Gives a claim back untouched (the job turned out not to be due yet). */
  async releaseClaim(id: string): Promise<void> {
    await this.#router.master
      .updateTable("email_jobs")
      .set({
        status: sql<string>`case when retry_count > 0 then 'retrying' else 'pending' end`,
        locked_until: null,
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", id)
      .where("status", "=", "processing")
      .execute();
  }

  /**
   * A failed attempt that will be tried again at `nextAttemptAt`; the claim is released. A deferral
   * the provider asked for (throttling) does not count as an attempt.
   */
  async markRetrying(
    id: string,
    error: string,
    nextAttemptAt: Date,
    countAttempt = true,
  ): Promise<EmailJobRecord | undefined> {
    return this.#transition(id, ["processing"], "retrying", {
      error_message: error,
      next_attempt_at: nextAttemptAt,
      ...(countAttempt && { retry_count: sql<number>`retry_count + 1` }),
    });
  }

  async markFailed(id: string, error: string): Promise<EmailJobRecord | undefined> {
    return this.#transition(id, ["processing"], "failed", { error_message: error });
  }

  async markSuppressed(id: string, reason: string): Promise<EmailJobRecord | undefined> {
    return this.#transition(id, ["processing"], "suppressed", { error_message: reason });
  }

  /** A sandbox job went through everything but the provider: recorded with the provider it would use. */
  async markSandboxed(id: string, provider: string): Promise<EmailJobRecord | undefined> {
    return this.#transition(id, ["processing"], "sandboxed", { error_message: null, provider });
  }

  /**
   * Puts aside a campaign's job that came off the queue while its campaign was paused: pending and
   * unpublished, so resuming publishes it again (CampaignRepository.takeParkedJobs) and the
   * reconciler leaves it alone meanwhile. False when the job was no longer waiting, or when its
   * campaign runs again: the campaign's row is read under a share lock, so a resume is either after
   * the park (and publishes the job) or before it (and the job, not parked, must be sent).
   */
  async park(id: string): Promise<boolean> {
    return this.#router.master.transaction().execute(async (trx) => {
      // The job's row first, then its campaign's, as every other writer of both takes them (a job
      // ending moves its campaign's counters): the other order deadlocks with a cancel.
      const { rows } = await sql<{ campaign_id: string | null }>`
        select campaign_id from email_jobs where id = ${id} for no key update`.execute(trx);
      const campaignId = rows[0]?.campaign_id;
      if (!campaignId) return false;
      const campaign = await sql<{ status: string }>`
        select status from email_campaigns where id = ${campaignId} for share`.execute(trx);
      if (campaign.rows[0] === undefined || campaign.rows[0].status === "running") return false;
      const result = await trx
        .updateTable("email_jobs")
        .set({
          status: "pending",
          enqueued_at: null,
          next_attempt_at: null,
          locked_until: null,
          updated_at: sql<Date>`now()`,
        })
        .where("id", "=", id)
        .where("status", "in", [...CLAIMABLE_STATUSES])
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  /** Puts a failed (or dead-lettered) job back in line, with a fresh set of attempts. */
  async requeue(id: string): Promise<EmailJobRecord | undefined> {
    return this.#transition(id, ["failed"], "pending", { error_message: null, retry_count: 0 });
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const job = await this.#transition(id, CANCELLABLE_STATUSES, "cancelled", {});
    if (job) return { outcome: "cancelled", job };
    const current = await this.get(id, { consistency: "strong" });
    if (!current) return { outcome: "not_found" };
    // Cancelling twice (a client retrying after a lost answer) gets the same answer as the first time.
    if (current.status === "cancelled") return { outcome: "cancelled", job: current };
    return { outcome: "not_cancellable", job: current };
  }

  /** Records that the jobs' queue messages were published. */
  async markEnqueued(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#router.master
      .updateTable("email_jobs")
      .set({ enqueued_at: sql<Date>`now()` })
      .where("id", "in", [...ids])
      .execute();
  }

  /**
   * The queue lost its messages (Redis came back without its data): pending jobs published before
   * `before` no longer have one, so they count as never published and takeLostJobs republishes
   * them. Returns how many. A job whose message did survive is sent once all the same: sending claims.
   */
  async forgetEnqueued(before: Date): Promise<number> {
    const result = await this.#router.master
      .updateTable("email_jobs")
      .set({ enqueued_at: null })
      .where("status", "=", "pending")
      .where("enqueued_at", "<=", before)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Tracked jobs whose queue message is evidently lost, taken for republishing: pending but never
   * published, retrying well past their due time, or claimed by a worker whose lease ran out long
   * ago. Each is pushed `graceMs` into the future so the next pass does not take it again, and many
   * replicas can run this together (SKIP LOCKED). Duplicate messages are harmless: sending claims.
   */
  async takeLostJobs(graceMs: number, limit: number): Promise<LostJob[]> {
    const grace = graceMs / 1000;
    const { rows } = await sql<LostJob>`
      update email_jobs set
        status = case when status = 'processing' then 'retrying' else status end,
        locked_until = null,
        enqueued_at = now(),
        next_attempt_at = case when status = 'pending' then next_attempt_at
                               else now() + make_interval(secs => ${grace}) end,
        updated_at = now()
      where id in (
        select id from email_jobs
        where ((status = 'pending' and enqueued_at is null and created_at < now() - make_interval(secs => ${grace}))
           or (status = 'retrying' and next_attempt_at < now() - make_interval(secs => ${grace}))
           or (status = 'processing' and locked_until < now() - make_interval(secs => ${grace})))
          -- A paused campaign's jobs wait unpublished until it resumes.
          and (campaign_id is null or exists (
            select 1 from email_campaigns c where c.id = email_jobs.campaign_id and c.status = 'running'))
        order by created_at
        limit ${limit}
        for update skip locked)
      returning id, priority, scheduled_at`.execute(this.#router.master);
    return rows;
  }

  /** A batch's jobs by status (its index holds them by batch and status). */
  async countBatch(batchId: string): Promise<Record<string, number>> {
    const rows = await this.#router.master
      .selectFrom("email_jobs")
      .select(["status", sql<number>`count(*)::int`.as("count")])
      .where("batch_id", "=", batchId)
      .groupBy("status")
      .execute();
    return Object.fromEntries(rows.map((row) => [row.status, row.count]));
  }

  /** Cancels the batch's jobs not yet handed to a provider; returns how many. */
  async cancelBatch(batchId: string): Promise<number> {
    const result = await this.#router.master
      .updateTable("email_jobs")
      .set({ status: "cancelled", locked_until: null, next_attempt_at: null, updated_at: sql<Date>`now()` })
      .where("batch_id", "=", batchId)
      .where("status", "in", [...CANCELLABLE_STATUSES])
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Status counts, for `emailctl status` and the stats API. */
  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.#router.read((db) =>
      db
        .selectFrom("email_jobs")
        .select(["status", sql<number>`count(*)::int`.as("count")])
        .groupBy("status")
        .execute(),
    );
    return Object.fromEntries(rows.map((row) => [row.status, row.count]));
  }

  async #transition(
    id: string,
    from: readonly JobStatus[],
    to: JobStatus,
    changes: TransitionChanges,
  ): Promise<EmailJobRecord | undefined> {
    return this.#router.master
      .updateTable("email_jobs")
      .set({
        next_attempt_at: null,
        ...changes,
        status: to,
        locked_until: null,
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", id)
      .where("status", "in", [...from])
      .returningAll()
      .executeTakeFirst();
  }
}
