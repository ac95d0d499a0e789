import type { IdempotencyRecord, IdempotencyState, IdempotencyStore } from "../idempotency.ts";
import type { RedisClient } from "./connect-redis.ts";
import { queueKeys } from "./queue-keys.ts";
import { RedisScript } from "./redis-script.ts";

/**
 * SET NX, or the current holder; the value is `job id|state|fingerprint`. Returns 1 and the value
 * when this call reserved the key, 0 and the holder's value otherwise. KEYS: the key. ARGV: job id,
 * ttl ms, fingerprint ('' for none).
 */
const reserveScript = new RedisScript(`
local value = ARGV[1] .. '|queued|' .. ARGV[3]
if redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2]) then return {1, value} end
return {0, redis.call('GET', KEYS[1])}
`);

/** Marks sent only for the owner, keeping the TTL. KEYS: the key. ARGV: job id. */
const markSentScript = new RedisScript(`
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  local fingerprint = string.match(current, '^[^|]*|[^|]*|(.*)$') or ''
  redis.call('SET', KEYS[1], ARGV[1] .. '|sent|' .. fingerprint, 'KEEPTTL')
end
return 1
`);

/** Deletes the key only for its owner. KEYS: the key. ARGV: job id. */
const releaseScript = new RedisScript(`
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then redis.call('DEL', KEYS[1]) end
return 1
`);

export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  /** `hashTags`: the queue's keys are tagged (see queueKeys), so these sit in its cluster slot. */
  constructor(redis: RedisClient, queueName: string, hashTags = false) {
    this.#redis = redis;
    this.#prefix = queueKeys(queueName, hashTags).idempotencyPrefix;
  }

  async reserve(key: string, jobId: string, ttlMs: number, fingerprint = ""): Promise<IdempotencyRecord> {
    const [created, value] = (await reserveScript.run(
      this.#redis,
      [this.#prefix + key],
      [jobId, ttlMs, fingerprint],
    )) as [number, string];
    const [owner = jobId, state = "queued", held = ""] = String(value).split("|");
    return {
      job_id: owner,
      state: state as IdempotencyState,
      created: created === 1,
      ...(held !== "" && { fingerprint: held }),
    };
  }

  async markSent(key: string, jobId: string): Promise<void> {
    await markSentScript.run(this.#redis, [this.#prefix + key], [jobId]);
  }

  async release(key: string, jobId: string): Promise<void> {
    await releaseScript.run(this.#redis, [this.#prefix + key], [jobId]);
  }

  async cleanup(): Promise<number> {
    return 0;
  }
}
