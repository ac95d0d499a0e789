import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const load = (env: Record<string, string>) =>
  loadConfig({ env: { QUEUE_DRIVER: "redis", ...env }, file: false });

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("Redis Sentinel and Cluster settings", () => {
  it("reads Sentinels, the master's name and the Sentinel password from the environment", () => {
    const { redis } = load({
      REDIS_SENTINELS: "s1:26379,s2:26380",
      REDIS_SENTINEL_MASTER: "queue-master",
      REDIS_SENTINEL_PASSWORD: "not-a-real-password",
    }).queue;
    expect(redis).toMatchObject({
      sentinels: ["s1:26379", "s2:26380"],
      sentinel_master_name: "queue-master",
      sentinel_password: "not-a-real-password",
      cluster_nodes: [],
      hash_tags: false,
    });
  });

  it("defaults to a single server, the master name mymaster and the untagged key layout", () => {
    const { redis } = load({}).queue;
    expect(redis).toMatchObject({
      sentinels: [],
      cluster_nodes: [],
      sentinel_master_name: "mymaster",
      hash_tags: false,
    });
  });

  it("reads cluster nodes and hash tags from the environment", () => {
    const { redis } = load({ REDIS_CLUSTER_NODES: "r1:7000,r2:7001", REDIS_HASH_TAGS: "true" }).queue;
    expect(redis).toMatchObject({ cluster_nodes: ["r1:7000", "r2:7001"], hash_tags: true });
  });

  it("refuses Sentinels and cluster nodes together, naming both keys", () => {
    const problems = problemsOf({ REDIS_SENTINELS: "s1:26379", REDIS_CLUSTER_NODES: "r1:7000" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("queue.redis.sentinels (REDIS_SENTINELS)");
    expect(problems[0]).toContain("queue.redis.cluster_nodes (REDIS_CLUSTER_NODES)");
  });

  it("refuses addresses that are not host:port, naming the key and the value", () => {
    expect(problemsOf({ REDIS_SENTINELS: "s1" })).toEqual([
      'queue.redis.sentinels (REDIS_SENTINELS) must list host:port pairs: value was ["s1"]',
    ]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: "r1:7000,r2" })[0]).toContain(
      "queue.redis.cluster_nodes (REDIS_CLUSTER_NODES) must list host:port pairs",
    );
  });

  it("refuses an empty master name with Sentinels, and a database other than 0 on a cluster", () => {
    expect(problemsOf({ REDIS_SENTINELS: "s1:26379", REDIS_SENTINEL_MASTER: "" })[0]).toContain(
      "queue.redis.sentinel_master_name",
    );
    expect(problemsOf({ REDIS_CLUSTER_NODES: "r1:7000", REDIS_DB: "2" })[0]).toContain(
      "queue.redis.db must be 0 with cluster_nodes",
    );
  });
});
