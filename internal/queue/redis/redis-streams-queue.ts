import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { LANES, type Lane } from "../../job/priority.ts";
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
import { BlockingInterrupter } from "./blocking-interrupter.ts";
import type { RedisClient } from "./connect-redis.ts";
import { queueKeys } from "./queue-keys.ts";
import { ackScript, fetchScript, promoteScript, reclaimScript, replayScript } from "./scripts.ts";

export interface RedisStreamsQueueOptions {
  /** Commands, scripts and acks. */
  redis: RedisClient;
  /** A second connection for blocking reads, which hold their connection while they wait. */
  blockingRedis: RedisClient;
  /** Stream names are `<name>:<lane>` (`{<name>}:<lane>` with hashTags); also the prefix of every other key. */
  name: string;
  /** Keys named `{<name>}:<suffix>`, all in one cluster slot (see queueKeys); default: untagged. */
  hashTags?: boolean | undefined;
  group: string;
  /** This process's name in the group; absent: one made up from the host, pid and a random part. */
  consumer?: string;
  visibilityTimeoutMs: number;
  pollIntervalMs: number;
  fairShare: number;
  /** An entry handed out this many times without being finished is dead-lettered when next claimed. */
  maxDeliveries: number;
  /**
   * Entries read per round trip at least; the rest wait here (pending for this consumer) for the
   * next fetch, and the next read starts while they are sent, so workers do not wait for Redis.
   */
  readBatch: number;
  /** A batch of acknowledgements failed: those entries will be delivered again. */
  onAckError?: ((error: unknown) => void) | undefined;
  /**
   * The consumer group or its streams were gone (Redis restarted without persistence, was flushed,
   * or failed over to a node without the data) and have been made again.
   */
  onRecreated?: ((event: QueueDataLoss) => void) | undefined;
}

/** What a recreation found: whether Redis lost the queue's data, and what it held when last seen. */
export interface QueueDataLoss {
  /** The queue's marker key was gone too: whatever lived only in Redis is lost. */
  dataLost: boolean;
  /** The last statistics read before the loss (delayed jobs and dead letters among them). */
  lastSeen: QueueStats | undefined;
  cause: string;
}

/** Redis's answer when the group (or its stream) does not exist. */
function isMissingGroup(error: unknown): boolean {
  return String((error as Error | undefined)?.message ?? "").includes("NOGROUP");
}

type StreamEntry = [id: string, fields: string[]];

const STREAM_ID = /^\d+-\d+$/;

function field(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * The `redis` queue: one Stream per lane read through one consumer group, a sorted set for delayed
 * and retry messages, and a dead-letter stream. Producers in any language publish with
 * `XADD <name>:<lane> * job <json>` (`{<name>}:<lane>` with hash tags). Finished entries are acknowledged and deleted, in batches.
 */
export class RedisStreamsQueue implements JobQueue {
  readonly driver = "redis";
  readonly #redis: RedisClient;
  readonly #blocking: RedisClient;
  readonly #group: string;
  readonly #consumer: string;
  readonly #visibilityMs: number;
  readonly #pollMs: number;
  readonly #fairShare: FairShare;
  readonly #maxDeliveries: number;
  readonly #streams: Record<Lane, string>;
  readonly #delayedKey: string;
  readonly #deadKey: string;
  readonly #instanceKey: string;
  /** Entries a blocking read returned beyond what was asked; handed out first next time. */
  #surplus: Delivery[] = [];
  readonly #readBatch: number;
  #readingAhead: Promise<void> | undefined;
  /** When the lanes were last read (Date.now()): how stale the surplus's view of them may be. */
  #lastRead = Number.NEGATIVE_INFINITY;
  /** The last fetch handed out more urgent entries instead of the surplus's head; this one must not. */
  #passedOver = false;
  #lastReclaim = 0;
  #reclaimCursor: Record<Lane, string> = { critical: "0-0", high: "0-0", normal: "0-0", low: "0-0" };
  readonly #interrupter: BlockingInterrupter;
  readonly #acks: AckBatcher<Delivery>;
  readonly #onRecreated: ((event: QueueDataLoss) => void) | undefined;
  /** The marker this process last saw in `<name>:instance`; a different or missing one means data loss. */
  #instance: string | undefined;
  #recreating: Promise<void> | undefined;
  #lastStats: QueueStats | undefined;

  constructor(options: RedisStreamsQueueOptions) {
    this.#redis = options.redis;
    this.#blocking = options.blockingRedis;
    this.#group = options.group;
    this.#consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.#visibilityMs = options.visibilityTimeoutMs;
    this.#pollMs = options.pollIntervalMs;
    this.#fairShare = new FairShare(options.fairShare);
    this.#maxDeliveries = options.maxDeliveries;
    this.#readBatch = Math.max(options.readBatch, 1);
    this.#acks = new AckBatcher((items) => this.#flushAcks(items), options.onAckError);
    this.#onRecreated = options.onRecreated;
    const keys = queueKeys(options.name, options.hashTags ?? false);
    this.#streams = keys.streams;
    this.#delayedKey = keys.delayed;
    this.#deadKey = keys.dead;
    this.#instanceKey = keys.instance;
    this.#interrupter = new BlockingInterrupter(this.#redis, this.#blocking, keys.streams.normal);
  }

  async init(): Promise<void> {
    await this.#interrupter.init();
    await this.#createGroups();
    await this.#redis.set(this.#instanceKey, randomUUID(), "NX");
    this.#instance = (await this.#redis.get(this.#instanceKey)) ?? undefined;
  }

  /** Every lane's stream and the group on it; safe to run on every replica at once. */
  async #createGroups(): Promise<void> {
    for (const stream of Object.values(this.#streams)) {
      try {
        // From the start of the stream: jobs published before the first worker ran are not skipped.
        await this.#redis.xgroup("CREATE", stream, this.#group, "0", "MKSTREAM");
      } catch (error) {
        if (!String((error as Error).message).startsWith("BUSYGROUP")) throw error;
      }
    }
  }

  async publish(messages: readonly QueueMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const pipeline = this.#redis.multi();
    const now = Date.now();
    for (const message of messages) {
      const attempt = message.attempt ?? 0;
      if (message.run_at !== undefined && message.run_at.getTime() > now) {
        pipeline.zadd(
          this.#delayedKey,
          message.run_at.getTime(),
          this.#delayedMember(message.lane, message.body, attempt),
        );
      } else if (attempt > 0) {
        pipeline.xadd(this.#streams[message.lane], "*", "job", message.body, "attempt", String(attempt));
      } else {
        pipeline.xadd(this.#streams[message.lane], "*", "job", message.body);
      }
    }
    await execOrThrow(pipeline);
  }

  /**
   * Takes up to `max` messages. When Redis has lost the group (a restart without persistence, a
   * flush, a failover to an empty node) it makes it again and reads on, instead of failing every
   * fetch from then on.
   */
  async fetch(max: number, signal?: AbortSignal): Promise<Delivery[]> {
    return this.#recovering(() => this.#fetch(max, signal));
  }

  async #fetch(max: number, signal?: AbortSignal): Promise<Delivery[]> {
    if (max <= 0 || signal?.aborted) return [];
    if (this.#surplus.length < max) await this.#readingAhead;
    const urgent = await this.#readMoreUrgentThanSurplus(max);
    const out = this.#surplus.splice(0, max - urgent.length);
    if (urgent.length > 0) out.unshift(...urgent);
    if (out.length < max) out.push(...(await this.#reclaimIfDue(max - out.length)));
    if (out.length < max) out.push(...(await this.#readLanes(max - out.length)));
    if (out.length > 0) this.#readAheadIfLow(max);
    if (out.length > 0 || signal?.aborted) return sortByLane(out);
    // A stop request must not wait out the blocking read: unblock it from the other connection.
    const unblock = await this.#interrupter.prepare();
    if (signal?.aborted) return [];
    signal?.addEventListener("abort", unblock, { once: true });
    try {
      return await this.#blockingRead(max);
    } finally {
      signal?.removeEventListener("abort", unblock);
    }
  }

  /**
   * Acknowledges in the next batch without holding the worker for that round trip. If the process
   * dies before it lands, the entry is delivered again after the visibility timeout.
   */
  ack(delivery: Delivery): Promise<void> {
    this.#acks.defer(delivery);
    return Promise.resolve();
  }

  async retry(delivery: Delivery, next: RetryRequest): Promise<void> {
    const stream = this.#streams[delivery.lane];
    await execOrThrow(
      this.#redis
        .multi()
        .zadd(
          this.#delayedKey,
          next.run_at.getTime(),
          this.#delayedMember(delivery.lane, next.body, next.attempt),
        )
        .xack(stream, this.#group, delivery.id)
        .xdel(stream, delivery.id),
    );
  }

  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const stream = this.#streams[delivery.lane];
    await execOrThrow(
      this.#redis
        .multi()
        .xadd(
          this.#deadKey,
          "*",
          ...["job", delivery.body, "lane", delivery.lane, "reason", reason],
          ...[
            "attempt",
            String(delivery.attempt),
            "failed_at",
            new Date().toISOString(),
            "source_id",
            delivery.id,
          ],
        )
        .xack(stream, this.#group, delivery.id)
        .xdel(stream, delivery.id),
    );
  }

  async promoteDue(): Promise<number> {
    const moved = await promoteScript.run(
      this.#redis,
      [this.#delayedKey, ...LANES.map((l) => this.#streams[l])],
      [500, ...LANES],
    );
    return Number(moved);
  }

  async stats(): Promise<QueueStats> {
    // Commands wait in ioredis's offline queue while it reconnects, and a failover shorter than the
    // health check's timeout would then read as "connected" throughout: the health checks built on
    // this must see that the connection is down now.
    if (this.#redis.status !== "ready") {
      throw new Error(`the Redis connection is ${this.#redis.status}`);
    }
    const stats = await this.#recovering(() => this.#stats());
    this.#lastStats = stats;
    return stats;
  }

  async #stats(): Promise<QueueStats> {
    const pipeline = this.#redis.pipeline();
    for (const lane of LANES) {
      pipeline.xlen(this.#streams[lane]);
      pipeline.xpending(this.#streams[lane], this.#group);
    }
    pipeline.zcard(this.#delayedKey);
    pipeline.xlen(this.#deadKey);
    const results = (await pipeline.exec()) ?? [];
    // A pipeline reports each command's error in its result: one failing means the queue is not
    // what it should be, and the health checks built on this must see it.
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    const value = (i: number) => results[i]?.[1];
    const lanes = { critical: 0, high: 0, normal: 0, low: 0 };
    let inFlight = 0;
    LANES.forEach((lane, i) => {
      const length = Number(value(i * 2) ?? 0);
      const pending = Number((value(i * 2 + 1) as [number] | undefined)?.[0] ?? 0);
      lanes[lane] = Math.max(length - pending, 0);
      inFlight += pending;
    });
    return { lanes, in_flight: inFlight, delayed: Number(value(8) ?? 0), dead: Number(value(9) ?? 0) };
  }

  async listDeadLetters(limit: number, after?: string): Promise<DeadLetter[]> {
    if (after !== undefined && !STREAM_ID.test(after)) throw new DeadLetterPositionError(after);
    // Nothing is older than the first possible id, and Redis refuses a range ending before it.
    if (after === "0-0") return [];
    // An exclusive range (Redis 6.2+) continues after the letter even once it has been replayed.
    const end = after === undefined ? "+" : `(${after}`;
    const entries = (await this.#redis.xrevrange(this.#deadKey, end, "-", "COUNT", limit)) as StreamEntry[];
    return entries.map(([id, fields]) => ({
      id,
      lane: (field(fields, "lane") ?? "normal") as Lane,
      body: field(fields, "job") ?? "",
      reason: field(fields, "reason") ?? "",
      attempt: Number(field(fields, "attempt") ?? 0),
      failed_at: new Date(field(fields, "failed_at") ?? 0),
    }));
  }

  async replayDeadLetter(id: string): Promise<boolean> {
    const keys = [this.#deadKey, ...LANES.map((l) => this.#streams[l])];
    return Number(await replayScript.run(this.#redis, keys, [id, ...LANES])) === 1;
  }

  async close(): Promise<void> {
    await this.#readingAhead;
    await this.#acks.drain();
    // Entries read ahead but never handed out: put copies back on their lanes now rather than leave
    // them to wait for the visibility timeout.
    const surplus = this.#surplus.splice(0);
    if (surplus.length === 0) return;
    const pipeline = this.#redis.multi();
    for (const delivery of surplus) {
      const stream = this.#streams[delivery.lane];
      if (delivery.attempt > 0)
        pipeline.xadd(stream, "*", "job", delivery.body, "attempt", String(delivery.attempt));
      else pipeline.xadd(stream, "*", "job", delivery.body);
      pipeline.xack(stream, this.#group, delivery.id).xdel(stream, delivery.id);
    }
    await execOrThrow(pipeline);
  }

  /** Runs `operation`; if Redis no longer has the group, makes it again and runs it once more. */
  async #recovering<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (!isMissingGroup(error)) throw error;
      await this.#recreate(error);
      return operation();
    }
  }

  /** One recreation at a time, however many fetches and checks ran into the missing group. */
  #recreate(error: unknown): Promise<void> {
    this.#recreating ??= (async () => {
      await this.#createGroups();
      await this.#redis.set(this.#instanceKey, randomUUID(), "NX");
      const instance = (await this.#redis.get(this.#instanceKey)) ?? undefined;
      const dataLost = instance !== this.#instance;
      this.#instance = instance;
      this.#reclaimCursor = { critical: "0-0", high: "0-0", normal: "0-0", low: "0-0" };
      this.#onRecreated?.({ dataLost, lastSeen: this.#lastStats, cause: (error as Error).message });
    })().finally(() => {
      this.#recreating = undefined;
    });
    return this.#recreating;
  }

  #delayedMember(lane: Lane, body: string, attempt: number): string {
    // The uid keeps two identical retries from collapsing into one sorted-set member.
    return JSON.stringify({ lane, body, attempt, uid: randomUUID() });
  }

  /** Starts the next read while the last one is sent, when entries are read in batches. */
  #readAheadIfLow(max: number): void {
    if (this.#readBatch <= max || this.#readingAhead || this.#surplus.length >= this.#readBatch / 2) return;
    this.#readingAhead = this.#read(this.#readBatch - this.#surplus.length)
      .then((got) => {
        this.#surplus = sortByLane([...this.#surplus, ...got]);
      })
      .catch(() => {
        // The next fetch reads for itself (and reports what is wrong).
      })
      .finally(() => {
        this.#readingAhead = undefined;
      });
  }

  /**
   * Entries read ahead wait in the surplus for the next fetches; meanwhile a critical email may have
   * arrived, and the surplus (a campaign's, say) would be handed out before it. So when the lanes
   * were last read more than SURPLUS_FRESH_MS ago, the lanes more urgent than the surplus's head are
   * read first. A fetch that got such entries is followed by one that hands out the surplus, so
   * its entries (pending for this consumer) cannot wait behind a stream of urgent ones.
   */
  async #readMoreUrgentThanSurplus(max: number): Promise<Delivery[]> {
    const head = this.#surplus[0];
    if (head === undefined || this.#passedOver || Date.now() - this.#lastRead < SURPLUS_FRESH_MS) {
      this.#passedOver = false;
      return [];
    }
    const moreUrgent = LANES.slice(0, LANES.indexOf(head.lane));
    if (moreUrgent.length === 0) return [];
    const got = await this.#readOnly(moreUrgent, max);
    this.#passedOver = got.length > 0;
    return sortByLane(got);
  }

  /** Reads at least a batch; what goes beyond `max` waits in the surplus. */
  async #readLanes(max: number): Promise<Delivery[]> {
    const got = sortByLane(await this.#read(Math.max(max, this.#readBatch)));
    if (got.length > max) this.#surplus = sortByLane([...this.#surplus, ...got.splice(max)]);
    return got;
  }

  async #read(max: number): Promise<Delivery[]> {
    const plan = this.#fairShare.plan(max);
    const reservedIndex = plan.reserved ? LANES.indexOf(plan.reserved.lane) + 1 : 0;
    return this.#readOnly(LANES, max, reservedIndex, plan.reserved?.count ?? 0);
  }

  /** Reads `lanes` (LANES or a prefix of it) in order, after `reservedCount` from the lane at `reservedIndex`. */
  async #readOnly(
    lanes: readonly Lane[],
    max: number,
    reservedIndex = 0,
    reservedCount = 0,
  ): Promise<Delivery[]> {
    this.#lastRead = Date.now();
    const reply = (await fetchScript.run(
      this.#redis,
      lanes.map((lane) => this.#streams[lane]),
      [this.#group, this.#consumer, max, reservedIndex, reservedCount],
    )) as [number, string, string[]][];
    return reply.map(([laneIndex, id, fields]) =>
      this.#delivery(lanes[laneIndex - 1] as Lane, id, fields, false),
    );
  }

  async #blockingRead(max: number): Promise<Delivery[]> {
    const streams = LANES.map((lane) => this.#streams[lane]);
    const reply = (await this.#blocking.xreadgroup(
      "GROUP",
      this.#group,
      this.#consumer,
      "COUNT",
      1,
      "BLOCK",
      this.#pollMs,
      "STREAMS",
      ...streams,
      ...streams.map(() => ">"),
    )) as [string, StreamEntry[]][] | null;
    this.#lastRead = Date.now();
    if (!reply) return [];
    const got: Delivery[] = [];
    for (const [stream, entries] of reply) {
      const lane = LANES[streams.indexOf(stream)] as Lane;
      for (const [id, fields] of entries) got.push(this.#delivery(lane, id, fields, false));
    }
    const sorted = sortByLane(got);
    this.#surplus.push(...sorted.slice(max));
    return sorted.slice(0, max);
  }

  /**
   * Takes over entries whose consumer has held them past the visibility timeout (it crashed or hung),
   * dead-lettering those already handed out `maxDeliveries` times.
   */
  async #reclaimIfDue(max: number): Promise<Delivery[]> {
    const now = Date.now();
    if (now - this.#lastReclaim < Math.max(this.#visibilityMs / 4, 250)) return [];
    this.#lastReclaim = now;
    const out: Delivery[] = [];
    for (const lane of LANES) {
      if (out.length >= max) break;
      const [cursor, entries] = (await reclaimScript.run(
        this.#redis,
        [this.#streams[lane], this.#deadKey],
        [
          ...[this.#group, this.#consumer, this.#visibilityMs, this.#reclaimCursor[lane], max - out.length],
          ...[
            this.#maxDeliveries,
            deadLetterReason.deliveryCap(this.#maxDeliveries),
            lane,
            new Date().toISOString(),
          ],
        ],
      )) as [string, StreamEntry[], number];
      this.#reclaimCursor[lane] = cursor;
      for (const [id, fields] of entries) out.push(this.#delivery(lane, id, fields, true));
    }
    return out;
  }

  #delivery(lane: Lane, id: string, fields: readonly string[], redelivered: boolean): Delivery {
    return {
      id,
      lane,
      body: field(fields, "job") ?? field(fields, "body") ?? "",
      attempt: Number(field(fields, "attempt") ?? 0) || 0,
      redelivered,
      // An entry id is the time Redis added it, in ms, then a sequence number: delayed and retried
      // jobs are added when they fall due.
      enqueuedAt: Number.parseInt(id, 10),
    };
  }

  async #flushAcks(batch: Delivery[]): Promise<void> {
    const byLane = new Map<Lane, string[]>();
    for (const delivery of batch) {
      const ids = byLane.get(delivery.lane) ?? [];
      ids.push(delivery.id);
      byLane.set(delivery.lane, ids);
    }
    const lanes = [...byLane.keys()];
    await ackScript.run(
      this.#redis,
      lanes.map((lane) => this.#streams[lane]),
      [this.#group, ...lanes.map((lane) => byLane.get(lane)?.length ?? 0), ...[...byLane.values()].flat()],
    );
  }
}

/**
 * How long the surplus may stand for the lanes' contents: older, the lanes more urgent than it are
 * read before it is handed out. It bounds how long an urgent entry can wait behind read-ahead work
 * and costs at most one read per period while the surplus holds less urgent work.
 */
const SURPLUS_FRESH_MS = 2;

function sortByLane(deliveries: Delivery[]): Delivery[] {
  return deliveries.sort((a, b) => LANES.indexOf(a.lane) - LANES.indexOf(b.lane));
}

async function execOrThrow(pipeline: { exec(): Promise<[Error | null, unknown][] | null> }): Promise<void> {
  const results = await pipeline.exec();
  if (results === null) throw new Error("redis transaction was aborted");
  for (const [error] of results) if (error) throw error;
}
