import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { RedisClient } from "../queue/redis/connect-redis.ts";
import { RedisScript } from "../queue/redis/redis-script.ts";

/**
 * Takes a slot when fewer than ARGV[1] unexpired holders exist. KEYS: the holder set. ARGV: limit,
 * holder id, lease ms. Redis' clock decides expiry, so replicas with skewed clocks agree.
 */
const acquireScript = new RedisScript(`
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], nowMs + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0
`);

/**
 * A counting semaphore shared by every replica through one Redis sorted set. Each slot is a lease:
 * a replica that dies while holding one frees it when the lease runs out.
 */
export class RedisSemaphore {
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #limit: number;
  readonly #leaseMs: number;

  constructor(options: { redis: RedisClient; key: string; limit: number; leaseMs: number }) {
    this.#redis = options.redis;
    this.#key = options.key;
    this.#limit = options.limit;
    this.#leaseMs = options.leaseMs;
  }

  /** A release function, or undefined when no slot came free before the deadline. */
  async acquire(deadline: number, signal?: AbortSignal): Promise<(() => void) | undefined> {
    const holder = randomUUID();
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      const taken = await acquireScript.run(this.#redis, [this.#key], [this.#limit, holder, this.#leaseMs]);
      if (Number(taken) === 1) {
        return () => {
          this.#redis.zrem(this.#key, holder).catch(() => {});
        };
      }
      if (Date.now() + pause > deadline || signal?.aborted) return undefined;
      await sleep(pause);
    }
  }
}
