import { Redis } from "ioredis";
import type { Config } from "../../config/index.ts";
import { maskUrl } from "../../config/index.ts";
import { UnavailableError } from "../../errors/error-kind.ts";

class RedisUnavailableError extends UnavailableError {
  override readonly name = "RedisUnavailableError";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: "redis_unavailable", cause: options.cause });
  }
}

function redisUrlOf(settings: Config["queue"]["redis"]): string {
  if (settings.url) return settings.url;
  const auth = settings.password ? `:${encodeURIComponent(settings.password)}@` : "";
  return `redis://${auth}${settings.host}:${settings.port}/${settings.db}`;
}

/** Connects and pings, so a wrong address stops start-up with a message naming it (password masked). */
export async function connectRedis(settings: Config["queue"]["redis"], name: string): Promise<Redis> {
  const url = redisUrlOf(settings);
  const redis = new Redis(url, { lazyConnect: true, connectionName: name, connectTimeout: 5_000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new RedisUnavailableError(`cannot use Redis at ${maskUrl(url)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return redis;
}
