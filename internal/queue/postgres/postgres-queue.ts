import { type Kysely, sql } from "kysely";
import { type Lane, laneOf, PRIORITY_VALUES } from "../../job/priority.ts";
import type { Database } from "../../store/schema.ts";
import { AckBatcher } from "../ack-batcher.ts";
import { deadLetterReason } from "../dead-letter-reason.ts";
import { FairShare } from "../fair-share.ts";
import {
  type DeadLetter,
  DeadLetterPositionError,
  type Delivery,
  type JobQueue,
  type QueueMessage,
  type QueueStats,
  type RetryRequest,
} from "../queue.ts";
import { Wakeup } from "../wakeup.ts";
import { ClaimedDeliveries } from "./claimed-deliveries.ts";

export interface PostgresQueueOptions {
  /** The master: every queue operation writes. */
  db: Kysely<Database>;
  visibilityTimeoutMs: number;
  pollIntervalMs: number;
  fairShare: number;
  /** A row claimed this many times without being finished is dead-lettered by the next claim. */
  maxDeliveries: number;
  /**
   * Rows claimed per batch at least: those beyond what a fetch asked for wait here, leased, for the
   * next fetches, and the next batch is claimed as soon as fewer than this many wait (so up to twice
   * this many are held). One claim and one commit per batch is where the table queue's speed comes
   * from.
   */
  claimBatch: number;
  /** A batch of acknowledgements failed: those rows will be delivered again. */
  onAckError?: ((error: unknown) => void) | undefined;
}

interface ClaimedRow {
  id: string;
  lane: number;
  body: string;
  attempt: number;
  redelivered: boolean;
  dead: boolean;
}

/**
 * The `postgres` queue: rows in `email_queue`, claimed in batches with `FOR UPDATE SKIP LOCKED` and
 * leased until `locked_until`, so a crashed worker's rows come back on their own. Claiming also moves
 * `run_at` to the lease's end: a leased row is then out of the ready range of the index, so claims
 * never walk past rows others hold (however many consumers hold how many rows), and it is ready
 * again by itself when the lease runs out.
 * Delayed and retry messages are rows with a future `run_at` and no lease; dead letters stay in the
 * table, flagged. Works on PostgreSQL and on the embedded PGlite.
 */
export class PostgresQueue implements JobQueue {
  readonly driver = "postgres";
  readonly #db: Kysely<Database>;
  readonly #visibilityMs: number;
  readonly #pollMs: number;
  readonly #fairShare: FairShare;
  readonly #maxDeliveries: number;
  /** Fetches waiting in this process, woken by a publish from this process. */
  readonly #waiters = new Wakeup();
  readonly #acks: AckBatcher<string>;
  readonly #claimBatch: number;
  readonly #claimed = new ClaimedDeliveries();
  #claiming: Promise<void> | undefined;
  #closed = false;

  constructor(options: PostgresQueueOptions) {
    this.#db = options.db;
    this.#visibilityMs = options.visibilityTimeoutMs;
    this.#pollMs = options.pollIntervalMs;
    this.#fairShare = new FairShare(options.fairShare);
    this.#maxDeliveries = options.maxDeliveries;
    this.#claimBatch = Math.max(options.claimBatch, 1);
    this.#acks = new AckBatcher((items) => this.#flushAcks(items), options.onAckError);
  }

  async init(): Promise<void> {
    // The table comes with the migrations.
  }

  async publish(messages: readonly QueueMessage[]): Promise<void> {
    await this.publishIn(this.#db, messages);
  }

  /**
   * Publishes inside `db`, a transaction on the service's database: the messages exist once it
   * commits, and not at all if it rolls back. (On the embedded database, whose one connection the
   * transaction holds, this is also the only way to publish while it is open.)
   */
  async publishIn(db: Kysely<Database>, messages: readonly QueueMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await db
      .insertInto("email_queue")
      .values(
        messages.map((m) => ({
          lane: PRIORITY_VALUES[m.lane],
          body: m.body,
          attempt: m.attempt ?? 0,
          run_at: m.run_at ?? sql<Date>`now()`,
        })),
      )
      .execute();
    this.#waiters.wakeAll();
  }

  async fetch(max: number, signal?: AbortSignal): Promise<Delivery[]> {
    if (max <= 0 || signal?.aborted) return [];
    const got = await this.#claim(max);
    if (got.length > 0 || signal?.aborted) return got;
    await this.#wait(signal);
    return signal?.aborted ? [] : this.#claim(max);
  }

  /**
   * Deletes the row in the next batch, without holding the worker until that commit (which costs
   * a WAL flush): the row stays leased meanwhile, so no one else takes it. If the process dies first,
   * the lease runs out and the job is delivered again, like graphile-worker's batched completion.
   */
  ack(delivery: Delivery): Promise<void> {
    this.#acks.defer(delivery.id);
    return Promise.resolve();
  }

  async retry(delivery: Delivery, next: RetryRequest): Promise<void> {
    await this.#db
      .updateTable("email_queue")
      .set({
        body: next.body,
        attempt: next.attempt,
        run_at: next.run_at,
        locked_until: null,
        // This delivery finished: the cap counts deliveries in a row that never did.
        deliveries: 0,
        reason: next.error,
      })
      .where("id", "=", delivery.id)
      .execute();
  }

  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    await this.#db
      .updateTable("email_queue")
      .set({ dead: true, reason, failed_at: sql<Date>`now()`, locked_until: null })
      .where("id", "=", delivery.id)
      .execute();
  }

  async promoteDue(): Promise<number> {
    // A delayed row becomes fetchable when its run_at passes; there is nothing to move.
    return 0;
  }

  async stats(): Promise<QueueStats> {
    const rows = await this.#db
      .selectFrom("email_queue")
      .select([
        "lane",
        sql<number>`count(*) filter (where not dead and run_at <= now())::int`.as("ready"),
        sql<number>`count(*) filter (where not dead and locked_until >= now())::int`.as("in_flight"),
        sql<number>`count(*) filter (where not dead and run_at > now() and (locked_until is null or locked_until < now()))::int`.as(
          "delayed",
        ),
        sql<number>`count(*) filter (where dead)::int`.as("dead"),
      ])
      .groupBy("lane")
      .execute();
    const stats: QueueStats = {
      lanes: { critical: 0, high: 0, normal: 0, low: 0 },
      in_flight: 0,
      delayed: 0,
      dead: 0,
    };
    for (const row of rows) {
      stats.lanes[laneOf(row.lane)] += row.ready;
      stats.in_flight += row.in_flight;
      stats.delayed += row.delayed;
      stats.dead += row.dead;
    }
    return stats;
  }

  async listDeadLetters(limit: number, after?: string): Promise<DeadLetter[]> {
    const from = after === undefined ? undefined : decodeDeadPosition(after);
    let query = this.#db
      .selectFrom("email_queue")
      .select([
        "id",
        "lane",
        "body",
        "reason",
        "attempt",
        "failed_at",
        sql<string>`failed_at::text`.as("failed_at_text"),
      ])
      .where("dead", "=", true);
    // Keyset on the dead-letter index's own order, (failed_at, id) descending.
    if (from)
      query = query.where(
        sql<boolean>`(failed_at, id) < (${from.failed_at}::timestamptz, ${from.id}::bigint)`,
      );
    const rows = await query.orderBy("failed_at", "desc").orderBy("id", "desc").limit(limit).execute();
    return rows.map((row) => ({
      id: String(row.id),
      lane: laneOf(row.lane),
      body: row.body,
      reason: row.reason ?? "",
      attempt: row.attempt,
      failed_at: row.failed_at ?? new Date(0),
      position: JSON.stringify([row.failed_at_text, String(row.id)]),
    }));
  }

  async replayDeadLetter(id: string): Promise<boolean> {
    if (!/^\d+$/.test(id)) return false;
    const result = await this.#db
      .updateTable("email_queue")
      .set({
        dead: false,
        reason: null,
        failed_at: null,
        attempt: 0,
        deliveries: 0,
        run_at: sql<Date>`now()`,
      })
      .where("id", "=", id)
      .where("dead", "=", true)
      .executeTakeFirst();
    const replayed = result.numUpdatedRows > 0n;
    if (replayed) this.#waiters.wakeAll();
    return replayed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#acks.drain();
    this.#waiters.wakeAll();
    await this.#claiming?.catch(() => {});
    // Claimed ahead and never handed out: give them back now rather than when their lease ends.
    const unused = this.#claimed.take(Number.POSITIVE_INFINITY).map((d) => d.id);
    if (unused.length > 0)
      await this.#db
        .updateTable("email_queue")
        .set({
          locked_until: null,
          run_at: sql<Date>`now()`,
          deliveries: sql<number>`greatest(deliveries - 1, 0)`,
        })
        .where(sql<boolean>`id = any(${unused}::bigint[])`)
        .execute();
  }

  async #claim(max: number): Promise<Delivery[]> {
    if (this.#closed) return [];
    if (this.#claimed.size === 0) await (this.#claiming ?? this.#claimAhead(max));
    const out = this.#claimed.take(max);
    // Claim the next whole batch as soon as this one is started, so that it lands before the
    // workers run out (a claim of a batch takes about as long as sending one); only when batches
    // are in use (a claim of exactly what was asked has nothing to overlap).
    if (
      this.#claimBatch > max &&
      out.length === max &&
      this.#claimed.size < this.#claimBatch &&
      !this.#claiming
    ) {
      void this.#claimAhead(max).catch(() => {});
      // The pool hands the claim its connection in a process.nextTick, which runs only once no
      // promise is left to settle: the workers' burst of jobs would hold the claim back until it
      // ends. A turn of the event loop now sends the claim first, to be answered during the burst.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  }

  #claimAhead(max: number): Promise<void> {
    this.#claiming ??= (async () => {
      try {
        const size = Math.max(max, this.#claimBatch);
        const { reserved } = this.#fairShare.plan(size);
        const rest = size - (reserved?.count ?? 0);
        // The lane's share and the rest are claimed at once, on two connections: sent one after the
        // other, the second would wait for the workers' current burst to end (it keeps the event
        // loop from reading the first answer), and the workers then for the second.
        const [ofLane, byPriority] = await Promise.all([
          reserved ? this.#claimRows(reserved.count, reserved.lane) : [],
          rest > 0 ? this.#claimRows(rest, undefined) : [],
        ]);
        this.#claimed.add(ofLane);
        this.#claimed.add(byPriority);
        // Slots the lane could not use go back to strict priority: now when the fetch waiting for
        // this claim would come up short, else in the next batch, which follows at once.
        const got = ofLane.length + byPriority.length;
        if (got < max && byPriority.length === rest)
          this.#claimed.add(await this.#claimRows(max - got, undefined));
      } finally {
        this.#claiming = undefined;
      }
    })();
    return this.#claiming;
  }

  async #claimRows(limit: number, lane: Lane | undefined): Promise<Delivery[]> {
    const laneFilter = lane === undefined ? sql`` : sql`and lane = ${PRIORITY_VALUES[lane]}`;
    const lease = sql`now() + make_interval(secs => ${this.#visibilityMs / 1000})`;
    // A row claimed `maxDeliveries` times and never finished crashed or hung every worker it
    // reached: the same claim dead-letters it instead of leasing it once more.
    const spent = sql`q.deliveries >= ${this.#maxDeliveries}`;
    // `id = any(array(…))` keeps the update on the primary key; a join on a CTE lets the planner
    // pick a sequential scan of the whole table when its statistics are stale, as they soon are
    // on a queue.
    const { rows } = await sql<ClaimedRow>`
      update email_queue q
      set locked_until = case when ${spent} then null else ${lease} end,
          run_at = case when ${spent} then q.run_at else ${lease} end,
          deliveries = case when ${spent} then q.deliveries else q.deliveries + 1 end,
          dead = ${spent},
          reason = case when ${spent} then ${deadLetterReason.deliveryCap(this.#maxDeliveries)} else q.reason end,
          failed_at = case when ${spent} then now() else q.failed_at end
      where q.id = any(array(
        select id from email_queue
        where not dead and run_at <= now() ${laneFilter}
        order by lane desc, run_at, id
        limit ${limit}
        for update skip locked
      ))
      returning q.id::text as id, q.lane, q.body, q.attempt, q.deliveries > 1 as redelivered, q.dead`.execute(
      this.#db,
    );
    const deliveries: Delivery[] = [];
    for (const { id, lane, body, attempt, redelivered, dead } of rows)
      if (!dead) deliveries.push({ id, lane: laneOf(lane), body, attempt, redelivered });
    return deliveries;
  }

  /** Sleeps until a local publish, the poll interval, or the next delayed row falls due. */
  async #wait(signal: AbortSignal | undefined): Promise<void> {
    const next = await this.#db
      .selectFrom("email_queue")
      .select(sql<number>`extract(epoch from (min(run_at) - now())) * 1000`.as("ms"))
      .where("dead", "=", false)
      .where("run_at", ">", sql<Date>`now()`)
      .where("locked_until", "is", null)
      .executeTakeFirst();
    const untilDue = next?.ms == null ? this.#pollMs : Math.max(Number(next.ms), 0);
    const waitMs = Math.min(this.#pollMs, untilDue);
    await this.#waiters.wait(waitMs, signal);
  }

  async #flushAcks(ids: string[]): Promise<void> {
    // One array parameter, not one per row: the statement's text and plan stay the same.
    await sql`delete from email_queue where id = any(${ids}::bigint[])`.execute(this.#db);
  }
}

const TIMESTAMP_TEXT = /^\d{4,}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?([+-]\d\d(:\d\d)?)?$/;
const MAX_BIGINT = 9_223_372_036_854_775_807n;

/**
 * A dead letter's position: Postgres' own text of its failed_at (a JS Date would drop the
 * microseconds and skip rows) and its id, so that the next page does not need the row itself, which
 * may have been replayed since.
 */
function decodeDeadPosition(position: string): { failed_at: string; id: string } {
  try {
    const value: unknown = JSON.parse(position);
    if (Array.isArray(value) && value.length === 2) {
      const [failedAt, id] = value;
      if (
        typeof failedAt === "string" &&
        TIMESTAMP_TEXT.test(failedAt) &&
        typeof id === "string" &&
        /^\d{1,19}$/.test(id) &&
        BigInt(id) <= MAX_BIGINT
      )
        return { failed_at: failedAt, id };
    }
  } catch {
    // falls through to the error below
  }
  throw new DeadLetterPositionError(position);
}
