import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KafkaTestBroker, startKafkaBroker } from "../../../test/kafka-broker.ts";
import { hasKafkaBroker, requires } from "../../../test/outside-tools.ts";
import { queueSettings } from "../../../test/queue-settings.ts";
import { queueContract } from "../queue.contract.ts";
import type { JobQueue } from "../queue.ts";
import { KafkaQueue } from "./kafka-queue.ts";
import { allTopics, kafkaTopics } from "./topics.ts";

let broker: KafkaTestBroker;
beforeAll(async () => {
  broker = await startKafkaBroker();
});
afterAll(async () => {
  await broker?.stop();
});

const kafka = requires("a Kafka broker (a C compiler and make build the mock one)", hasKafkaBroker());

/** A queue on one-partition topics of its own (made on the mock cluster; on a real Kafka, by the queue). */
async function singlePartitionQueue(prefix: string, clientId: string) {
  const name = `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const topics = kafkaTopics(name);
  if (!broker.real)
    await broker.createTopics(allTopics(topics).map((topic) => ({ name: topic, partitions: 1 })));
  const client = new Kafka({ brokers: broker.brokers, clientId, logLevel: logLevel.NOTHING });
  const groupId = `${name}-workers`;
  const queue = new KafkaQueue({
    ...queueSettings().kafka,
    kafka: client,
    name,
    groupId,
    pollIntervalMs: 100,
    maxDeliveries: 3,
    sessionTimeoutMs: broker.real ? 10_000 : 3_000,
    createTopics: broker.real ? { partitions: 1, replicationFactor: -1 } : undefined,
  });
  return { queue, client, topics, groupId };
}

describe.skipIf(kafka.skip)(`kafka${kafka.label}`, () => {
  queueContract("kafka", async (timings) => {
    const name = `ew-test-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
    // A real Kafka creates the topics through the queue's admin client; the mock cluster has no
    // CreateTopics, so they are made through its control channel.
    if (!broker.real)
      await broker.createTopics(
        allTopics(kafkaTopics(name)).map((topic) => ({ name: topic, partitions: 2 })),
      );
    const kafka = new Kafka({
      brokers: broker.brokers,
      clientId: "queue-contract",
      logLevel: logLevel.NOTHING,
    });
    const queues: KafkaQueue[] = [];
    const open = async () => {
      const queue = new KafkaQueue({
        ...queueSettings().kafka,
        kafka,
        name,
        groupId: `${name}-workers`,
        pollIntervalMs: timings.pollIntervalMs,
        maxDeliveries: timings.maxDeliveries,
        // The mock cluster holds a rebalance for the session timeout less a second, whoever rejoined.
        sessionTimeoutMs: broker.real ? 10_000 : 3_000,
        createTopics: broker.real ? { partitions: 2, replicationFactor: -1 } : undefined,
      });
      queues.push(queue);
      await queue.init();
      return queue;
    };
    const queue = await open();
    return {
      queue,
      anotherConsumer: open,
      abandon: (abandoned: JobQueue) => (abandoned as KafkaQueue).close(),
      async cleanup() {
        for (const q of queues) await q.close();
      },
    };
  });
});

describe.skipIf(kafka.skip)(`kafka queue start-up${kafka.label}`, () => {
  it("refuses to start when its topics are missing, naming them", async () => {
    const kafka = new Kafka({
      brokers: broker.brokers,
      clientId: "queue-startup",
      logLevel: logLevel.NOTHING,
    });
    const name = `ew-missing-${Date.now().toString(36)}`;
    const queue = new KafkaQueue({
      ...queueSettings().kafka,
      kafka,
      name,
      groupId: `${name}-workers`,
      pollIntervalMs: 100,
    });
    await expect(queue.init()).rejects.toThrow(`kafka topics missing: ${name}.critical, ${name}.high`);
    await queue.close();
  });
});

describe.skipIf(kafka.skip)(`kafka delivery count${kafka.label}`, () => {
  it("carries a message's trace context in the W3C headers beside its body", async () => {
    const { queue } = await singlePartitionQueue("ew-trace", "trace-headers");
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const publishedAt = Date.now();
    try {
      await queue.init();
      await queue.publish([
        { body: '{"n":1}', lane: "high", trace: { traceparent, tracestate: "vendor=1" } },
      ]);
      let got: Awaited<ReturnType<KafkaQueue["fetch"]>> = [];
      for (let i = 0; i < 50 && got.length === 0; i++) got = await queue.fetch(1);
      expect(got[0]?.headers).toMatchObject({ traceparent, tracestate: "vendor=1" });
      // The message's timestamp: when it was published, for the wait it is traced with.
      expect(got[0]?.enqueuedAt).toBeGreaterThanOrEqual(publishedAt - 1_000);
      expect(got[0]?.enqueuedAt).toBeLessThanOrEqual(Date.now());
      if (got[0]) await queue.ack(got[0]);
    } finally {
      await queue.close();
    }
  });

  it("is committed before the first unfinished message reaches a worker, so a crash cannot lose it", async () => {
    const { queue, client, topics, groupId } = await singlePartitionQueue("ew-count", "delivery-count");
    const admin = client.admin();
    try {
      await queue.init();
      await admin.connect();
      await queue.publish([{ body: '{"n":"poison"}', lane: "normal" }]);
      let got: Awaited<ReturnType<KafkaQueue["fetch"]>> = [];
      for (let i = 0; i < 50 && got.length === 0; i++) got = await queue.fetch(1);
      expect(got.map((d) => d.body)).toEqual(['{"n":"poison"}']);
      // The worker holding it now dies: what the next owner reads is already committed.
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topics.lanes.normal] });
      const [partition] = committed?.partitions ?? [];
      expect(partition?.offset).toBe("0");
      expect(JSON.parse(partition?.metadata ?? "{}")).toMatchObject({ deliveries: 1 });
    } finally {
      await admin.disconnect();
      await queue.close();
    }
  });
});

// Fault injection needs the mock cluster's control channel.
describe.skipIf(kafka.skip || Boolean(process.env.KAFKA_BROKERS))(
  `kafka consumer crash${kafka.label}`,
  () => {
    it("says why while a crash kafkajs does not recover from holds its consumer, then consumes again", async () => {
      const { queue } = await singlePartitionQueue("ew-crash", "consumer-crash");
      try {
        await queue.init();
        // The next Fetch requests (API key 1) are refused: TOPIC_AUTHORIZATION_FAILED (29), which
        // kafkajs does not retry. Whichever of the lanes' consumer and the retry relay reads first
        // crashes and stays stopped until started again.
        await broker.command("errors 1 2 29");
        let refusal: unknown;
        for (let i = 0; i < 100 && refusal === undefined; i++)
          await queue.fetch(1).catch((error: unknown) => {
            refusal = error;
          });
        expect(String(refusal)).toMatch(
          /kafka (consumer|retry relay) stopped at \S+ \(Not authorized to access topics.*\) and is being started again/,
        );

        await queue.publish([{ body: '{"n":"after the crash"}', lane: "high" }]);
        const deadline = Date.now() + 30_000;
        let got: Awaited<ReturnType<KafkaQueue["fetch"]>> = [];
        // Backing off on a refusal as the worker pool does: a refusal answers at once.
        while (got.length === 0 && Date.now() < deadline)
          got = await queue.fetch(1).catch(() => sleep(100).then(() => []));
        expect(got.map((d) => d.body)).toEqual(['{"n":"after the crash"}']);
        if (got[0]) await queue.ack(got[0]);
      } finally {
        await queue.close();
      }
    }, 60_000);
  },
);
