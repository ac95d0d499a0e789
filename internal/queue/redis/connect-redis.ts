import { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "../../config/index.ts";
import { maskUrl } from "../../config/index.ts";
import { UnavailableError } from "../../errors/error-kind.ts";

/** A standalone or Sentinel-managed Redis, or a Redis Cluster: the queue works on any of them. */
export type RedisClient = Redis | Cluster;

type RedisSettings = Config["queue"]["redis"];

class RedisUnavailableError extends UnavailableError {
  override readonly name = "RedisUnavailableError";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: "redis_unavailable", cause: options.cause });
  }
}

function redisUrlOf(settings: RedisSettings): string {
  if (settings.url) return settings.url;
  const auth = settings.password ? `:${encodeURIComponent(settings.password)}@` : "";
  return `redis://${auth}${settings.host}:${settings.port}/${settings.db}`;
}

/** The password and database of the data nodes, whether given in the URL or on their own. */
function credentialsOf(settings: RedisSettings): { password: string | undefined; db: number } {
  if (!settings.url) return { password: settings.password || undefined, db: settings.db };
  const url = new URL(settings.url);
  return {
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: Number(url.pathname.slice(1) || 0),
  };
}

function addressesOf(list: readonly string[]): { host: string; port: number }[] {
  return list.map((entry) => {
    const [host = "", port = ""] = entry.trim().split(":");
    return { host, port: Number(port) };
  });
}

/**
 * A master demoted by a failover stays reachable and answers writes with READONLY until the client
 * notices the switch: reconnecting (2 = and resend the command) asks the Sentinels for the new one.
 */
function reconnectOnReadonly(error: Error): 2 | false {
  return error.message.startsWith("READONLY") ? 2 : false;
}

/** What start-up errors and logs call this Redis: its URL (masked), Sentinels, or cluster seeds. */
export function describeRedis(settings: RedisSettings): string {
  if (settings.cluster_nodes.length > 0) return `Redis Cluster ${settings.cluster_nodes.join(",")}`;
  if (settings.sentinels.length > 0)
    return `Redis master "${settings.sentinel_master_name}" via Sentinels ${settings.sentinels.join(",")}`;
  return `Redis at ${maskUrl(redisUrlOf(settings))}`;
}

function createClient(settings: RedisSettings, name: string): RedisClient {
  const common = { lazyConnect: true, connectionName: name, connectTimeout: 5_000 } as const;
  const { password, db } = credentialsOf(settings);
  if (settings.cluster_nodes.length > 0) {
    return new Cluster(addressesOf(settings.cluster_nodes), {
      lazyConnect: true,
      redisOptions: { connectionName: name, connectTimeout: 5_000, ...(password && { password }) },
    });
  }
  if (settings.sentinels.length > 0) {
    return new Redis({
      ...common,
      sentinels: addressesOf(settings.sentinels),
      name: settings.sentinel_master_name,
      db,
      reconnectOnError: reconnectOnReadonly,
      // Subscribes to the Sentinels' +switch-master, so a failover is followed at once instead of
      // when the old master's connection finally fails.
      failoverDetector: true,
      ...(password && { password }),
      ...(settings.sentinel_password && { sentinelPassword: settings.sentinel_password }),
    });
  }
  return new Redis(redisUrlOf(settings), { ...common, reconnectOnError: reconnectOnReadonly });
}

/** Logs each master the connection lands on after the first, so a failover shows in the log. */
function reportMasterChanges(redis: RedisClient, name: string, logger: Logger | undefined): void {
  if (!logger || redis.isCluster) return;
  const client = redis as Redis;
  let current: string | undefined;
  client.on("ready", () => {
    const address = `${client.stream?.remoteAddress}:${client.stream?.remotePort}`;
    if (current !== undefined && current !== address)
      logger.warn(
        { connection: name, from: current, to: address },
        "Redis master changed: reconnected to the new one",
      );
    current = address;
  });
}

/** Connects and pings, so a wrong address stops start-up with a message naming it (password masked). */
export async function connectRedis(
  settings: RedisSettings,
  name: string,
  logger?: Logger,
): Promise<RedisClient> {
  const redis = createClient(settings, name);
  reportMasterChanges(redis, name, logger);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new RedisUnavailableError(`cannot use ${describeRedis(settings)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return redis;
}
