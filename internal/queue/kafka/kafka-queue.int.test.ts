import { randomBytes } from "node:crypto";
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
