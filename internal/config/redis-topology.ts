import type { Config } from "./config.ts";

const HOST_PORT = /^[^\s:]+:\d+$/;

/** Standalone, Sentinel or Cluster: the Redis settings must name exactly one. */
export function redisProblems(redis: Config["queue"]["redis"]): string[] {
  const problems: string[] = [];
  const { sentinels, cluster_nodes } = redis;
  if (sentinels.length > 0 && cluster_nodes.length > 0)
    problems.push(
      "queue.redis.sentinels (REDIS_SENTINELS) and queue.redis.cluster_nodes (REDIS_CLUSTER_NODES) cannot both be set: Sentinel and Cluster are different Redis set-ups; keep the one you run",
    );
  for (const [key, env, list] of [
    ["sentinels", "REDIS_SENTINELS", sentinels],
    ["cluster_nodes", "REDIS_CLUSTER_NODES", cluster_nodes],
  ] as const) {
    if (list.some((entry) => !HOST_PORT.test(entry.trim())))
      problems.push(
        `queue.redis.${key} (${env}) must list host:port pairs: value was ${JSON.stringify(list)}`,
      );
  }
  if (sentinels.length > 0 && redis.sentinel_master_name === "")
    problems.push("queue.redis.sentinel_master_name (REDIS_SENTINEL_MASTER) must name the master");
  // A cluster has only database 0: SELECT fails on it.
  if (cluster_nodes.length > 0 && redis.db !== 0)
    problems.push(
      `queue.redis.db must be 0 with cluster_nodes (a Redis Cluster has one database): value was ${redis.db}`,
    );
  return problems;
}
