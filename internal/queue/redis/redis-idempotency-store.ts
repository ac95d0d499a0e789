import type { IdempotencyRecord, IdempotencyState, IdempotencyStore } from "../idempotency.ts";
import type { RedisClient } from "./connect-redis.ts";
import { queueKeys } from "./queue-keys.ts";
import { RedisScript } from "./redis-script.ts";

/** SET NX, or the current holder. KEYS: the key. ARGV: job id, ttl ms. */
const reserveScript = new RedisScript(`
local created = redis.call('SET', KEYS[1], ARGV[1] .. '|queued', 'NX', 'PX', ARGV[2])
if created then return ARGV[1] .. '|queued' end
return redis.call('GET', KEYS[1])
`);

/** Marks sent only for the owner, keeping the TTL. KEYS: the key. ARGV: job id. */
const markSentScript = new RedisScript(`
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  redis.call('SET', KEYS[1], ARGV[1] .. '|sent', 'KEEPTTL')
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

  async reserve(key: string, jobId: string, ttlMs: number): Promise<IdempotencyRecord> {
    const value = String(await reserveScript.run(this.#redis, [this.#prefix + key], [jobId, ttlMs]));
    const [owner = jobId, state = "queued"] = value.split("|");
    return { job_id: owner, state: state as IdempotencyState };
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
