import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../postgres.ts";
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from "../redis.ts";
import { type ReplicaCluster, startReplicaCluster } from "../replica-cluster.ts";
import { type ServiceProcess, smtpSinkEnv, startServiceProcess } from "../service-process.ts";
import { receiptsByJob, type SmtpSink, startSmtpSink } from "../smtp-sink.ts";
import { until } from "../until.ts";

/**
 * The PostgreSQL primary crashes and its streaming replica is promoted while jobs flow on the Redis
 * queue. The service, given both servers in one multi-host DATABASE_URL with
 * target_session_attrs=read-write, finds the promoted replica for its next connections by itself:
 * tracked intake works again within seconds, without a restart, and every tracked job is sent once.
 * Replication is synchronous, as a failover that promises no loss runs it: nothing the primary
 * acknowledged is missing on the replica.
 */
describe("email-worker through a PostgreSQL primary failover", () => {
  let cluster: ReplicaCluster;
  let sink: SmtpSink;
  let redis: Redis;
  let service: ServiceProcess;
  let base = "";
  let databaseName = "";
  const queueName = uniquePrefix("pg-failover");

  beforeAll(async () => {
    cluster = await startReplicaCluster({ synchronous: true });
    // A database of the test's own, made on the primary: the replica receives it by replication.
    databaseName = (await createTestDatabase("ew_failover", cluster.primaryUrl)).name;
    sink = await startSmtpSink({ dataDelayMs: 20 });
    redis = await connectRedis();
    const hosts = `127.0.0.1:${cluster.primaryPort},127.0.0.1:${cluster.replicaPort}`;
    service = await startServiceProcess({
      QUEUE_DRIVER: "redis",
      REDIS_URL: redisUrl(),
      QUEUE_NAME: queueName,
      QUEUE_POLL_INTERVAL: "200ms",
      // Long enough that marks retried through the failover land before a claim runs out.
      QUEUE_VISIBILITY_TIMEOUT: "40s",
      WORKER_PROCESS_TIMEOUT: "5s",
      WORKER_RECONCILE_INTERVAL: "1s",
      WORKER_RECONCILE_GRACE: "3s",
      DATABASE_URL: `postgres://postgres@${hosts}/${databaseName}?target_session_attrs=read-write`,
      DB_CONNECT_TIMEOUT: "1s",
      DB_QUERY_TIMEOUT: "2s",
      ...smtpSinkEnv(sink.port),
    });
    base = service.base;
  });

  afterAll(async () => {
    await service?.stop();
    await sink?.close();
    await deleteKeys(redis, queueName);
    redis?.disconnect();
    await cluster?.destroy();
  });

  const post = (jobs: unknown[]) =>
    fetch(`${base}/v1/emails`, { method: "POST", body: JSON.stringify({ jobs }) }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as { results: { job_id?: string; error?: { code?: string } }[] },
    }));
  const jobs = (count: number, label: string) =>
    Array.from({ length: count }, (_, i) => ({
      id: randomUUID(),
      type: "failover",
      recipient_email: `${label}-${i}@example.org`,
      subject: label,
      text: "hello",
      tracked: true,
    }));
  const receipts = () => receiptsByJob(sink);

  async function statuses(ids: string[]): Promise<Map<string, string>> {
    const url = `postgres://postgres@127.0.0.1:${cluster.replicaPort}/${databaseName}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; status: string }>(
        "select id, status from email_jobs where id = any($1)",
        [ids],
      );
      return new Map(rows.map((row) => [row.id, row.status]));
    } finally {
      await client.end();
    }
  }

  it("finds the promoted replica without a restart and sends every tracked job exactly once", {
    timeout: 120_000,
  }, async () => {
    const before = jobs(40, "before");
    expect((await post(before)).status).toBe(207);
    await until(async () => sink.messages.length >= 5, 20_000, "delivery to get going");

    await cluster.stopPrimary();
    const failedAt = Date.now();
    await cluster.promoteReplica();
    const promotedMs = Date.now() - failedAt;

    const after = jobs(20, "after");
    await until(async () => (await post(after)).status === 207, 30_000, "tracked intake to work again");
    const recoveredMs = Date.now() - failedAt;
    console.log(
      `primary failover: promoted in ${promotedMs} ms; tracked intake accepted again ${recoveredMs} ms after the primary stopped`,
    );

    const tracked = [...before, ...after];
    await until(
      async () => tracked.every((job) => receipts().has(job.id)),
      60_000,
      "every tracked job to be sent",
    );
    const ids = tracked.map((job) => job.id);
    await until(
      async () => [...(await statuses(ids)).values()].filter((s) => s === "sent").length === ids.length,
      30_000,
      "every tracked job to be marked sent on the promoted server",
    );

    expect(recoveredMs).toBeLessThan(15_000);
    const counts = receipts();
    for (const job of tracked) expect(counts.get(job.id), job.id).toBe(1);
  });
});
