import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";

export interface TestTopic {
  name: string;
  partitions: number;
}

export interface KafkaTestBroker {
  brokers: string[];
  /** True when KAFKA_BROKERS points the tests at a real Kafka instead of the mock cluster. */
  real: boolean;
  createTopics(topics: readonly TestTopic[]): Promise<void>;
  /** Sends a fault command to the mock cluster (see test/kafka/mock-broker.c). */
  command(line: string): Promise<void>;
  stop(): Promise<void>;
}

/** Builds the mock broker once (cached across runs) and returns its path. */
export function mockBrokerBinary(): string {
  if (process.env.KAFKA_MOCK_BROKER) return process.env.KAFKA_MOCK_BROKER;
  const script = fileURLToPath(new URL("./kafka/build-mock-broker.sh", import.meta.url));
  const path = execFileSync(script, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  process.env.KAFKA_MOCK_BROKER = path;
  return path;
}

/**
 * A Kafka broker for one test file: librdkafka's mock cluster (a real wire-protocol broker on
 * loopback) unless KAFKA_BROKERS names a real cluster, where topics are created through the admin
 * client instead.
 */
export async function startKafkaBroker(
  options: { topics?: readonly TestTopic[] } = {},
): Promise<KafkaTestBroker> {
  const external = process.env.KAFKA_BROKERS;
  if (external) {
    const brokers = external.split(",").map((b) => b.trim());
    const broker: KafkaTestBroker = {
      brokers,
      real: true,
      async createTopics(topics) {
        const admin = new Kafka({
          brokers,
          clientId: "email-worker-tests",
          logLevel: logLevel.NOTHING,
        }).admin();
        await admin.connect();
        try {
          await admin.createTopics({
            waitForLeaders: true,
            topics: topics.map((t) => ({ topic: t.name, numPartitions: t.partitions })),
          });
        } finally {
          await admin.disconnect();
        }
      },
      command() {
        return Promise.reject(new Error("fault commands need the mock broker (unset KAFKA_BROKERS)"));
      },
      async stop() {},
    };
    await broker.createTopics(options.topics ?? []);
    return broker;
  }

  const args = (options.topics ?? []).flatMap((t) => ["--topic", `${t.name}:${t.partitions}`]);
  const child = spawn(mockBrokerBinary(), args, { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const onExit = () => reject(new Error("the mock Kafka broker exited"));
      child.once("exit", onExit);
      waiting.push((line) => {
        child.off("exit", onExit);
        resolve(line);
      });
    });
  const first = await nextLine();
  if (!first.startsWith("bootstrap ")) throw new Error(`mock Kafka broker said: ${first}`);
  const brokers = first.slice("bootstrap ".length).split(",");
  let queue = Promise.resolve();
  const command = (line: string) => {
    const result = queue.then(async () => {
      const answer = nextLine();
      child.stdin.write(`${line}\n`);
      const reply = await answer;
      if (reply !== "ok") throw new Error(`mock Kafka broker: ${line}: ${reply}`);
    });
    queue = result.catch(() => {});
    return result;
  };
  return {
    brokers,
    real: false,
    async createTopics(topics) {
      for (const t of topics) await command(`topic ${t.name} ${t.partitions}`);
    },
    command,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin.end();
      await exited;
    },
  };
}
