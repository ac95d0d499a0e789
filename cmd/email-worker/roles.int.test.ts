import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allTopics, kafkaTopics } from "../../internal/queue/kafka/topics.ts";
import { type KafkaTestBroker, startKafkaBroker } from "../../test/kafka-broker.ts";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from "../../test/redis.ts";
import { type ServiceProcess, smtpSinkEnv, startServiceProcess } from "../../test/service-process.ts";
import { type SmtpSink, startSmtpSink } from "../../test/smtp-sink.ts";
import { until } from "../../test/until.ts";

type Driver = "redis" | "kafka";

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/**
 * The split deployment: an `api` process takes emails and consumes nothing, a `worker` process
 * consumes and sends and serves nothing but its probes and metrics, on one queue and database.
 * On Kafka the api process must not join the lanes' consumer group (it would hold partitions it
 * never reads).
 */
describe.each<Driver>(["redis", "kafka"])("api and worker roles on the %s queue", (driver) => {
  let database: TestDatabase;
  let sink: SmtpSink;
  let broker: KafkaTestBroker | undefined;
  let queuePrefix: string | undefined;
  let env: Record<string, string>;
  let api: ServiceProcess;
  let worker: ServiceProcess | undefined;

  beforeAll(async () => {
    database = await createTestDatabase("ew_roles");
    sink = await startSmtpSink();
    const topicPrefix = `ew-roles-${randomUUID().slice(0, 8)}`;
    if (driver === "kafka") {
      broker = await startKafkaBroker();
      await broker.createTopics(allTopics(kafkaTopics(topicPrefix)).map((name) => ({ name, partitions: 2 })));
    } else queuePrefix = uniquePrefix("roles");
    env = {
      QUEUE_DRIVER: driver,
      ...(queuePrefix && { REDIS_URL: redisUrl(), QUEUE_NAME: queuePrefix }),
      ...(broker && {
        QUEUE_NAME: topicPrefix,
        KAFKA_BROKERS: broker.brokers.join(","),
        KAFKA_GROUP_ID: `${topicPrefix}-workers`,
        KAFKA_SESSION_TIMEOUT: "6s",
      }),
      QUEUE_POLL_INTERVAL: "100ms",
      DATABASE_URL: database.url,
      ...smtpSinkEnv(sink.port),
    };
    api = await startServiceProcess({ ...env, ROLE: "api" });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await sink?.close();
    await broker?.stop();
    if (queuePrefix) {
      const redis = await connectRedis();
      await deleteKeys(redis, queuePrefix);
      redis.disconnect();
    }
    await database?.drop();
  });

  it("takes emails in the api process and sends them only once a worker runs", {
    timeout: 90_000,
  }, async () => {
    expect(api.output()).toMatch(/"role":"api".*"workers":0/);
    const live = await getJson(`${api.base}/livez`);
    expect(live).toMatchObject({ status: 200, body: { live: true, last_tick: null } });
    const health = await getJson(`${api.base}/health`);
    expect(health.body).toMatchObject({ status: "healthy", consumer: "off (this process does not consume)" });
    expect((await fetch(`${api.base}/readyz`)).status).toBe(200);

    const recipient = `roles-${driver}@example.com`;
    const accepted = await fetch(`${api.base}/v1/emails`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "receipt", recipient_email: recipient, subject: "Split", text: "hello" }),
    });
    expect(accepted.status).toBe(202);
    // Nothing consumes yet: the api process takes messages off no queue.
    await sleep(1_500);
    expect(sink.messages.filter((m) => m.to.includes(recipient))).toHaveLength(0);

    worker = await startServiceProcess({ ...env, ROLE: "worker" });
    await until(async () => sink.messages.some((m) => m.to.includes(recipient)), 30_000, "the worker's send");
    expect(sink.messages.filter((m) => m.to.includes(recipient))).toHaveLength(1);
  });

  it("serves nothing but probes and metrics from the worker process", async () => {
    if (!worker) throw new Error("the previous test starts the worker");
    expect(worker.output()).toMatch(/"role":"worker".*"grpc_port":null/);
    expect((await fetch(`${worker.base}/livez`)).status).toBe(200);
    expect((await fetch(`${worker.base}/readyz`)).status).toBe(200);
    expect((await getJson(`${worker.base}/health`)).body).toMatchObject({ consumer: "ok" });
    expect(await (await fetch(`${worker.base}/metrics`)).text()).toContain("email_jobs_processed_total");
    for (const path of ["/v1/emails", "/admin/", "/v1/campaigns", "/webhooks/sendgrid"])
      expect(
        (await fetch(`${worker.base}${path}`, { method: path === "/admin/" ? "GET" : "POST" })).status,
      ).toBe(404);
  });
});
