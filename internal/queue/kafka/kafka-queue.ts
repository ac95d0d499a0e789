import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
} from "kafkajs";
import type { Logger } from "pino";
import { LANES, type Lane } from "../../job/priority.ts";
import { AckBatcher } from "../ack-batcher.ts";
import { FairShare } from "../fair-share.ts";
import type { DeadLetter, Delivery, JobQueue, QueueMessage, QueueStats, RetryRequest } from "../queue.ts";
import { Wakeup } from "../wakeup.ts";
import { PartitionOffsets } from "./partition-offsets.ts";
import { RETRY_HEADERS, RetryRelay } from "./retry-relay.ts";
import { readTopic } from "./topic-reader.ts";
import { allTopics, ensureTopics, headerText, type KafkaTopics, kafkaTopics } from "./topics.ts";

export interface KafkaQueueOptions {
  kafka: Kafka;
  /** Lane topics are `<name>.critical` … `<name>.low`. */
  name: string;
  groupId: string;
  retryTopic?: string | undefined;
  deadLetterTopic?: string | undefined;
  pollIntervalMs: number;
  fairShare?: number | undefined;
  maxInFlightPerPartition?: number | undefined;
  sessionTimeoutMs?: number | undefined;
  retryHorizonMs?: number | undefined;
  /** Creates the topics at init (admin client); otherwise they must exist or be auto-created. */
  createTopics?: { partitions: number; replicationFactor: number } | undefined;
  logger?: Logger | undefined;
}

/** One assigned partition of a lane topic, as this consumer holds it. */
interface PartitionState {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  readonly lane: Lane;
  readonly offsets: PartitionOffsets;
  /** Offsets below this were handed out by an earlier owner (from its commit metadata). */
  readonly redeliveredBelow: number;
  /** False once the partition was revoked: its deliveries finish without committing. */
  current: boolean;
  /** Set while this consumer paused the partition because it holds enough of it. */
  resume: (() => void) | undefined;
}

interface KafkaDelivery extends Delivery {
  readonly state: PartitionState;
  readonly offset: number;
  readonly headers: Record<string, string>;
}

const key = (topic: string, partition: number) => `${topic}:${partition}`;

/**
 * The `kafka` queue: one topic per lane read by one consumer group, a retry topic whose messages
 * wait for their due time (see RetryRelay), and a dead-letter topic. Producers in any language
 * write the job's JSON to `<name>.<lane>`.
 *
 * kafkajs pushes batches; the worker pool pulls with `fetch`. Batches go into per-lane buffers,
 * and a partition whose unfinished messages reach `maxInFlightPerPartition` is paused until
 * they drain, so the fetcher (which waits for every batch of a fetch) never blocks on a full lane
 * and a busy lower lane cannot hold back an urgent one. Offsets are committed per partition up to
 * the first unfinished message, after the job finished (sent, failed, retried or dead-lettered).
 */
export class KafkaQueue implements JobQueue {
  readonly driver = "kafka";
  readonly topics: KafkaTopics;
  readonly #options: KafkaQueueOptions;
  readonly #producer: Producer;
  readonly #consumer: Consumer;
  readonly #admin: Admin;
  readonly #relay: RetryRelay;
  readonly #fairShare: FairShare;
  readonly #maxPerPartition: number;
  readonly #laneOfTopic: Map<string, Lane>;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #buffers: Record<Lane, KafkaDelivery[]> = { critical: [], high: [], normal: [], low: [] };
  readonly #handedOut: Record<Lane, number> = { critical: 0, high: 0, normal: 0, low: 0 };
  /** Latest end offset known per partition (from fetches, our own produces and stats). */
  readonly #ends = new Map<string, number>();
  /** Where the group stands per partition (from stats), for partitions not read yet. */
  readonly #startHints = new Map<string, number>();
  /** The lane partitions this consumer holds since the last rebalance, by key. */
  #assigned = new Map<string, Lane>();
  readonly #arrivals = new Wakeup();
  readonly #commits = new AckBatcher<PartitionState>((states) => this.#commit(states));
  #joined: Promise<void>;
  #onJoin: () => void = () => {};
  #closed = false;

  constructor(options: KafkaQueueOptions) {
    this.#options = options;
    this.topics = kafkaTopics(options.name, { retry: options.retryTopic, dead: options.deadLetterTopic });
    this.#fairShare = new FairShare(options.fairShare ?? 0.1);
    this.#maxPerPartition = options.maxInFlightPerPartition ?? 200;
    this.#laneOfTopic = new Map(LANES.map((lane) => [this.topics.lanes[lane], lane]));
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.#producer = options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.#consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(Math.floor(sessionTimeout / 10), 100),
      maxWaitTimeInMs: Math.min(options.pollIntervalMs, 1_000),
      allowAutoTopicCreation: true,
    });
    this.#admin = options.kafka.admin();
    this.#relay = new RetryRelay({
      kafka: options.kafka,
      producer: this.#producer,
      topics: this.topics,
      groupId: `${options.groupId}.retry`,
      sessionTimeoutMs: sessionTimeout,
      pollIntervalMs: Math.min(options.pollIntervalMs, 250),
      horizonMs: options.retryHorizonMs ?? 60_000,
      logger: options.logger,
    });
    this.#joined = new Promise((resolve) => {
      this.#onJoin = resolve;
    });
  }

  async init(): Promise<void> {
    await this.#admin.connect();
    await ensureTopics(this.#admin, allTopics(this.topics), this.#options.createTopics);
    await this.#producer.connect();
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) =>
      this.#assign(payload.memberAssignment),
    );
    this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) =>
      this.#options.logger?.error({ err: payload.error, restart: payload.restart }, "kafka consumer crashed"),
    );
    await this.#consumer.connect();
    await this.#consumer.subscribe({
      topics: LANES.map((lane) => this.topics.lanes[lane]),
      fromBeginning: true,
    });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 16,
      eachBatch: (payload) => this.#take(payload),
    });
    // Ready once this consumer holds its share of the partitions; the relay joins its own group
    // meanwhile (each join waits for the group's other members to rejoin).
    await Promise.all([this.#relay.start(), this.#joined]);
  }

  async publish(messages: readonly QueueMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    const add = (topic: string, message: Message) => {
      const list = byTopic.get(topic) ?? [];
      list.push(message);
      byTopic.set(topic, list);
    };
    const now = Date.now();
    for (const message of messages) {
      const attempt = message.attempt ?? 0;
      if (message.run_at !== undefined && message.run_at.getTime() > now) {
        add(this.topics.retry, {
          value: message.body,
          headers: {
            [RETRY_HEADERS.lane]: message.lane,
            [RETRY_HEADERS.runAt]: String(message.run_at.getTime()),
            [RETRY_HEADERS.attempt]: String(attempt),
          },
        });
      } else {
        add(this.topics.lanes[message.lane], {
          value: message.body,
          ...(attempt > 0 && { headers: { attempt: String(attempt) } }),
        });
      }
    }
    const written = await this.#producer.sendBatch({
      topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
    });
    // What we wrote is known to exist: lane order can count on it before the fetch brings it.
    for (const record of written) {
      const end = Number(record.baseOffset ?? -1) + 1;
      const k = key(record.topicName, record.partition);
      if (end > (this.#ends.get(k) ?? 0)) this.#ends.set(k, end);
    }
  }

  async fetch(max: number, signal?: AbortSignal): Promise<Delivery[]> {
    if (max <= 0 || signal?.aborted) return [];
    const deadline = Date.now() + this.#options.pollIntervalMs;
    let waitedForUrgent = false;
    for (;;) {
      // Messages of a more urgent lane are known to be on their way: wait a moment for them.
      if (!waitedForUrgent && this.#urgentNotBuffered()) {
        waitedForUrgent = true;
        await this.#arrivals.wait(Math.min(100, Math.max(deadline - Date.now(), 0)), signal);
        continue;
      }
      const out = this.#hand(max);
      if (out.length > 0 || signal?.aborted || this.#closed) return out;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await this.#arrivals.wait(left, signal);
    }
  }

  ack(delivery: Delivery): Promise<void> {
    return this.#finish(delivery as KafkaDelivery);
  }

  async retry(delivery: Delivery, next: RetryRequest): Promise<void> {
    await this.#producer.send({
      topic: this.topics.retry,
      messages: [
        {
          value: next.body,
          headers: {
            [RETRY_HEADERS.lane]: delivery.lane,
            [RETRY_HEADERS.runAt]: String(next.run_at.getTime()),
            [RETRY_HEADERS.attempt]: String(next.attempt),
            error: next.error.slice(0, 1_000),
          },
        },
      ],
    });
    await this.#finish(delivery as KafkaDelivery);
  }

  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const d = delivery as KafkaDelivery;
    await this.#producer.send({
      topic: this.topics.dead,
      messages: [
        {
          value: d.body,
          headers: {
            ...d.headers,
            lane: d.lane,
            reason,
            attempt: String(d.attempt),
            failed_at: new Date().toISOString(),
            source: d.id,
          },
        },
      ],
    });
    await this.#finish(d);
  }

  /** The retry relay moves due messages continuously; this reports how many it moved. */
  async promoteDue(): Promise<number> {
    return this.#relay.takePromoted();
  }

  async stats(): Promise<QueueStats> {
    const laneTopics = LANES.map((lane) => this.topics.lanes[lane]);
    const [laneEnds, retryEnds, deadEnds, replayedEnds, laneCommits, retryCommits] = await Promise.all([
      Promise.all(laneTopics.map((topic) => this.#admin.fetchTopicOffsets(topic))),
      this.#admin.fetchTopicOffsets(this.topics.retry),
      this.#admin.fetchTopicOffsets(this.topics.dead),
      this.#admin.fetchTopicOffsets(this.topics.replayed),
      this.#admin.fetchOffsets({ groupId: this.#options.groupId, topics: laneTopics }),
      this.#admin.fetchOffsets({ groupId: `${this.#options.groupId}.retry`, topics: [this.topics.retry] }),
    ]);
    const committedOf = (commits: typeof laneCommits, topic: string) =>
      new Map(
        (commits.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [
          p.partition,
          Number(p.offset),
        ]),
      );
    type Ends = Awaited<ReturnType<Admin["fetchTopicOffsets"]>>;
    const lag = (topic: string, ends: Ends, committed: Map<number, number>) => {
      let total = 0;
      for (const p of ends) {
        const high = Number(p.high);
        const committedAt = committed.get(p.partition) ?? -1;
        const from = committedAt >= 0 ? committedAt : Number(p.low);
        const k = key(topic, p.partition);
        if (high > (this.#ends.get(k) ?? 0)) this.#ends.set(k, high);
        this.#startHints.set(k, from);
        total += Math.max(high - from, 0);
      }
      return total;
    };
    const size = (ends: Ends) => ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    const lanes = { critical: 0, high: 0, normal: 0, low: 0 };
    LANES.forEach((lane, i) => {
      const topic = laneTopics[i] as string;
      const waiting = lag(topic, laneEnds[i] ?? [], committedOf(laneCommits, topic));
      lanes[lane] = Math.max(waiting - this.#handedOut[lane], 0);
    });
    return {
      lanes,
      in_flight: LANES.reduce((sum, lane) => sum + this.#handedOut[lane], 0),
      delayed: lag(this.topics.retry, retryEnds, committedOf(retryCommits, this.topics.retry)),
      dead: Math.max(size(deadEnds) - size(replayedEnds), 0),
    };
  }

  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    const [letters, replayed] = await Promise.all([this.#read(this.topics.dead), this.#replayedIds()]);
    return letters
      .filter((r) => !replayed.has(`${r.partition}:${r.offset}`))
      .sort((a, b) => Number(b.message.timestamp) - Number(a.message.timestamp) || b.offset - a.offset)
      .slice(0, limit)
      .map((r) => ({
        id: `${r.partition}:${r.offset}`,
        lane: (headerText(r.message.headers, "lane") ?? "normal") as Lane,
        body: r.message.value?.toString() ?? "",
        reason: headerText(r.message.headers, "reason") ?? "",
        attempt: Number(headerText(r.message.headers, "attempt") ?? 0) || 0,
        failed_at: new Date(headerText(r.message.headers, "failed_at") ?? Number(r.message.timestamp)),
      }));
  }

  async replayDeadLetter(id: string): Promise<boolean> {
    const match = /^(\d+):(\d+)$/.exec(id);
    if (!match) return false;
    const [letters, replayed] = await Promise.all([this.#read(this.topics.dead), this.#replayedIds()]);
    if (replayed.has(id)) return false;
    const letter = letters.find((r) => r.partition === Number(match[1]) && r.offset === Number(match[2]));
    if (!letter) return false;
    const lane = (headerText(letter.message.headers, "lane") ?? "normal") as Lane;
    await this.#producer.sendBatch({
      topicMessages: [
        {
          topic: this.topics.lanes[lane] ?? this.topics.lanes.normal,
          messages: [{ value: letter.message.value }],
        },
        { topic: this.topics.replayed, messages: [{ key: id, value: id }] },
      ],
    });
    return true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#arrivals.wakeAll();
    // A commit retrying through a rebalance must not hold shutdown for long.
    await Promise.race([this.#commits.drain(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    // What finished is committed before leaving; what is unfinished goes to the next owner.
    // The commit also records how far this consumer handed messages out, so the next owner can
    // flag those as redelivered.
    const pending = [...this.#partitions.values()].filter((s) => s.current);
    await this.#commit(pending, { always: true }).catch((error: unknown) =>
      this.#options.logger?.warn({ err: error }, "kafka: final commit failed; the next owner redelivers"),
    );
    for (const lane of LANES) this.#buffers[lane] = [];
    await this.#relay.stop();
    await this.#consumer.disconnect();
    await this.#producer.disconnect();
    await this.#admin.disconnect();
  }

  #read(topic: string) {
    return readTopic(this.#options.kafka, this.#admin, topic, { groupPrefix: this.#options.groupId });
  }

  async #replayedIds(): Promise<Set<string>> {
    const records = await this.#read(this.topics.replayed);
    return new Set(records.map((r) => r.message.key?.toString() ?? ""));
  }

  /** Takes a batch into the lane's buffer, pausing the partition when it holds enough. */
  async #take({
    batch,
    resolveOffset,
    pause,
    isRunning,
    isStale,
    heartbeat,
  }: EachBatchPayload): Promise<void> {
    const lane = this.#laneOfTopic.get(batch.topic);
    if (!lane || this.#closed) return;
    const k = key(batch.topic, batch.partition);
    const high = Number(batch.highWatermark);
    if (high > (this.#ends.get(k) ?? 0)) this.#ends.set(k, high);
    const first = batch.messages[0];
    if (!first) return;
    const state =
      this.#partitions.get(k) ?? (await this.#open(batch.topic, batch.partition, lane, Number(first.offset)));
    let taken = 0;
    for (const message of batch.messages) {
      if (!isRunning() || isStale() || !state.current) break;
      const offset = Number(message.offset);
      if (state.offsets.seen(offset)) {
        // Fetched again after a rebalance or resume: it is here already (or finished).
        resolveOffset(message.offset);
        continue;
      }
      if (state.offsets.unfinished >= this.#maxPerPartition) {
        state.resume ??= pause();
        break;
      }
      const headers: Record<string, string> = {};
      for (const name of Object.keys(message.headers ?? {})) {
        const value = headerText(message.headers, name);
        if (value !== undefined) headers[name] = value;
      }
      state.offsets.start(offset);
      this.#buffers[lane].push({
        id: `${batch.topic}/${batch.partition}/${offset}`,
        lane,
        body: message.value?.toString() ?? "",
        attempt: Number(headers.attempt ?? 0) || 0,
        redelivered: offset < state.redeliveredBelow,
        state,
        offset,
        headers,
      });
      resolveOffset(message.offset);
      taken++;
    }
    if (taken > 0) this.#arrivals.wakeAll();
    await heartbeat();
  }

  async #open(topic: string, partition: number, lane: Lane, firstOffset: number): Promise<PartitionState> {
    // The previous owner's commit says how far it had handed messages out: those come again.
    let redeliveredBelow = 0;
    try {
      const [committed] = await this.#admin.fetchOffsets({ groupId: this.#options.groupId, topics: [topic] });
      const mark = committed?.partitions.find((p) => p.partition === partition)?.metadata;
      if (mark) redeliveredBelow = Number((JSON.parse(mark) as { handed?: number }).handed ?? 0) || 0;
    } catch {
      // Only a hint; delivery does not depend on it.
    }
    const k = key(topic, partition);
    const state: PartitionState = {
      key: k,
      topic,
      partition,
      lane,
      offsets: new PartitionOffsets(firstOffset),
      redeliveredBelow,
      current: true,
      resume: undefined,
    };
    this.#partitions.set(k, state);
    return state;
  }

  /** After every rebalance: partitions no longer ours finish without committing. */
  #assign(assignment: Record<string, number[]>): void {
    const assigned = new Map<string, Lane>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      const lane = this.#laneOfTopic.get(topic);
      if (lane) for (const partition of partitions) assigned.set(key(topic, partition), lane);
    }
    this.#assigned = assigned;
    for (const [k, state] of this.#partitions) {
      if (assigned.has(k)) continue;
      state.current = false;
      this.#partitions.delete(k);
      state.resume?.();
      // Buffered and never handed out: the next owner will read them, so they are dropped here.
      this.#buffers[state.lane] = this.#buffers[state.lane].filter((d) => d.state !== state);
    }
    // Commits refused while the group rebalanced are made now for the partitions that stayed.
    for (const state of this.#partitions.values()) {
      if (state.offsets.pendingCommit !== undefined) void this.#commits.add(state);
    }
    void this.#loadStartHints().finally(() => this.#onJoin());
  }

  /** Where the group stands on each lane partition: lane order needs it before a partition is read. */
  async #loadStartHints(): Promise<void> {
    try {
      const commits = await this.#admin.fetchOffsets({
        groupId: this.#options.groupId,
        topics: LANES.map((lane) => this.topics.lanes[lane]),
      });
      for (const { topic, partitions } of commits) {
        for (const p of partitions)
          this.#startHints.set(key(topic, p.partition), Math.max(Number(p.offset), 0));
      }
    } catch (error) {
      this.#options.logger?.debug({ err: error }, "kafka: could not read committed offsets");
    }
  }

  #hand(max: number): KafkaDelivery[] {
    const out: KafkaDelivery[] = [];
    const plan = this.#fairShare.plan(max);
    const takeFrom = (lane: Lane, count: number) => {
      const taken = this.#buffers[lane].splice(0, count);
      this.#handedOut[lane] += taken.length;
      out.push(...taken);
    };
    if (plan.reserved) takeFrom(plan.reserved.lane, plan.reserved.count);
    for (const lane of plan.order) {
      if (out.length >= max) break;
      takeFrom(lane, max - out.length);
    }
    return out.sort((a, b) => LANES.indexOf(a.lane) - LANES.indexOf(b.lane));
  }

  /** True when a lane more urgent than anything buffered has messages not read yet. */
  #urgentNotBuffered(): boolean {
    const firstBuffered = LANES.findIndex((lane) => this.#buffers[lane].length > 0);
    if (firstBuffered <= 0) return false;
    for (const [k, lane] of this.#assigned) {
      if (LANES.indexOf(lane) >= firstBuffered) continue;
      const state = this.#partitions.get(k);
      if (state?.resume) continue;
      const next = state?.offsets.next ?? this.#startHints.get(k);
      const end = this.#ends.get(k);
      if (next !== undefined && end !== undefined && end > next) return true;
    }
    return false;
  }

  async #finish(delivery: KafkaDelivery): Promise<void> {
    const { state } = delivery;
    this.#handedOut[delivery.lane] = Math.max(this.#handedOut[delivery.lane] - 1, 0);
    if (!state.offsets.finish(delivery.offset) || !state.current) return;
    if (state.resume && state.offsets.unfinished <= this.#maxPerPartition / 2) {
      const resume = state.resume;
      state.resume = undefined;
      resume();
    }
    // The worker moves on; the commit follows in the next batch. If it never lands, the messages
    // are delivered again, as after a crash.
    this.#commits.defer(state);
  }

  async #commit(states: readonly PartitionState[], options: { always?: boolean } = {}): Promise<void> {
    const offsets = [];
    const committing = new Map<PartitionState, number>();
    for (const state of new Set(states)) {
      const offset = options.always ? state.offsets.committable : state.offsets.pendingCommit;
      if (offset === undefined || !state.current) continue;
      committing.set(state, offset);
      offsets.push({
        topic: state.topic,
        partition: state.partition,
        offset: String(offset),
        metadata: JSON.stringify({ handed: state.offsets.next }),
      });
    }
    if (offsets.length === 0) return;
    try {
      await this.#consumer.commitOffsets(offsets);
      for (const [state, offset] of committing) state.offsets.committed(offset);
    } catch (error) {
      // A rebalance is under way: the partitions that stay ours commit on their next finish.
      this.#options.logger?.warn({ err: error }, "kafka: commit failed; retried with the next one");
    }
  }
}
