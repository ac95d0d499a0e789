import { createHash } from "node:crypto";
import type { RedisClient } from "./connect-redis.ts";

/** A Lua script run by hash, loaded on first use (or after a Redis restart flushed the cache). */
export class RedisScript {
  readonly #lua: string;
  readonly #sha: string;

  constructor(lua: string) {
    this.#lua = lua;
    this.#sha = createHash("sha1").update(lua).digest("hex");
  }

  async run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error).message).startsWith("NOSCRIPT")) throw error;
      return redis.eval(this.#lua, keys.length, ...keys, ...args);
    }
  }
}
