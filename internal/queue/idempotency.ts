export type IdempotencyState = "queued" | "sent";

export interface IdempotencyRecord {
  /** The job that holds the key: the caller's own id when it has just reserved it. */
  job_id: string;
  state: IdempotencyState;
  /** True when this call made the reservation (or took over an expired one). */
  created: boolean;
  /** The request the key was reserved for (see requestFingerprint); absent when none was given. */
  fingerprint?: string | undefined;
}

/**
 * Idempotency keys (a job's `idempotency_key`): the first job to reserve a key owns it for the key's lifetime (24 h);
 * any other job with the key is a duplicate and sends nothing. Kept by the queue backend: Redis keys
 * with a TTL, or a table in postgres mode.
 */
export interface IdempotencyStore {
  /**
   * Reserves `key` for `jobId` (and the request's `fingerprint`) unless a live reservation exists;
   * returns whoever holds it.
   */
  reserve(key: string, jobId: string, ttlMs: number, fingerprint?: string): Promise<IdempotencyRecord>;
  /** Records that the owner's email went out, so a redelivery of the same job sends nothing. */
  markSent(key: string, jobId: string): Promise<void>;
  /** Gives up `jobId`'s reservation (its job never made it onto the queue). */
  release(key: string, jobId: string): Promise<void>;
  /** Removes expired reservations (Redis expires them itself). */
  cleanup(): Promise<number>;
}

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
