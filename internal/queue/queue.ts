import { KindedError } from "../errors/error-kind.ts";
import type { Lane } from "../job/priority.ts";
import type { TraceCarrier } from "../tracing/trace-context.ts";

/** What a producer hands the queue. */
export interface QueueMessage {
  /** The job's JSON, encoded by internal/job/queue-message.ts. */
  body: string;
  lane: Lane;
  /** Not before this time (scheduled jobs, retries). */
  run_at?: Date | undefined;
  /** Attempts already made; 0 for a new job. */
  attempt?: number | undefined;
  /** The trace the job continues, for transports that carry it beside the body (Kafka headers). */
  trace?: TraceCarrier | undefined;
}

/** A message handed to one consumer; it stays invisible to others until finished or timed out. */
export interface Delivery {
  /** Transport id: stream entry id, table row id, or topic/partition/offset. */
  readonly id: string;
  readonly lane: Lane;
  readonly body: string;
  /** Attempts already made before this one. */
  readonly attempt: number;
  /** Handed out before and never finished (its consumer died or timed out). */
  readonly redelivered: boolean;
  /** What the transport carried beside the body (Kafka headers); absent elsewhere. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * When the message became available to consumers (published, or due after a delay or a retry),
   * in milliseconds since the epoch, where the transport records it: how long it waited.
   */
  readonly enqueuedAt?: number;
}

export interface RetryRequest {
  /** The body for the next attempt (normally the same job). */
  body: string;
  run_at: Date;
  /** Attempts made so far, this one included. */
  attempt: number;
  error: string;
}

export interface DeadLetter {
  id: string;
  lane: Lane;
  body: string;
  reason: string;
  attempt: number;
  failed_at: Date;
  /**
   * Where the letter stands in the newest-first order, for `listDeadLetters`'s `after`; absent: its
   * id. A driver whose order is not its ids' (postgres, memory) says so here, so that a page can
   * follow a letter that has been replayed meanwhile.
   */
  position?: string;
}

/** A letter's place in the dead-letter order, to continue a listing after it. */
export function positionOf(letter: DeadLetter): string {
  return letter.position ?? letter.id;
}

/** `after` is not a position this queue hands out (a mangled page token, another driver's). */
export class DeadLetterPositionError extends KindedError<"invalid_argument"> {
  override readonly name = "DeadLetterPositionError";

  constructor(position: string) {
    super("invalid_argument", `"${position}" is not a dead-letter position of this queue`, {
      code: "invalid_cursor",
    });
  }
}

export interface QueueStats {
  /** Waiting to be fetched, per lane (in-flight messages excluded). */
  lanes: Record<Lane, number>;
  /** Fetched and not finished. */
  in_flight: number;
  /** Scheduled or waiting for a retry. */
  delayed: number;
  dead: number;
}

/**
 * The contract every queue backend (redis, postgres, kafka) meets, proven by one test suite:
 * at-least-once delivery, highest lane first with a fair share for lower lanes, delayed messages,
 * redelivery after the visibility timeout, and a dead-letter store that loses nothing.
 */
export interface JobQueue {
  readonly driver: "redis" | "postgres" | "kafka" | "memory";
  /** Creates what the backend needs (consumer groups, topics); idempotent. */
  init(): Promise<void>;
  publish(messages: readonly QueueMessage[]): Promise<void>;
  /**
   * Up to `max` deliveries. Waits up to the poll interval when there are none; returns early, maybe
   * empty, when `signal` aborts.
   */
  fetch(max: number, signal?: AbortSignal): Promise<Delivery[]>;
  /** The delivery is done: it will not be handed out again. */
  ack(delivery: Delivery): Promise<void>;
  /** Finishes this delivery and schedules the next attempt, atomically. */
  retry(delivery: Delivery, next: RetryRequest): Promise<void>;
  /** Finishes this delivery into the dead-letter store, with the reason. */
  deadLetter(delivery: Delivery, reason: string): Promise<void>;
  /** Moves due delayed messages onto their lanes; safe on many replicas at once. */
  promoteDue(): Promise<number>;
  stats(): Promise<QueueStats>;
  /**
   * Up to `limit` dead letters, newest first, starting after the letter at position `after`
   * (see positionOf; exclusive). Keyset, not offsets: letters that arrive meanwhile go before the
   * first page, so walking the pages sees every older letter once. Throws DeadLetterPositionError
   * for an `after` the driver never gave.
   */
  listDeadLetters(limit: number, after?: string): Promise<DeadLetter[]>;
  /** Puts a dead letter back on its lane as a fresh message; false when there is no such entry. */
  replayDeadLetter(id: string): Promise<boolean>;
  close(): Promise<void>;
}
