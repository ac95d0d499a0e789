import { randomBytes } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll } from "vitest";
import { type KafkaTestBroker, startKafkaBroker } from "../../../test/kafka-broker.ts";
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

queueContract("kafka", async (timings) => {
  const name = `ew-test-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  await broker.createTopics(allTopics(kafkaTopics(name)).map((topic) => ({ name: topic, partitions: 2 })));
  const kafka = new Kafka({
    brokers: broker.brokers,
    clientId: "queue-contract",
    logLevel: logLevel.NOTHING,
  });
  const queues: KafkaQueue[] = [];
  const open = async () => {
    const queue = new KafkaQueue({
      kafka,
      name,
      groupId: `${name}-workers`,
      pollIntervalMs: timings.pollIntervalMs,
      sessionTimeoutMs: 6_000,
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
