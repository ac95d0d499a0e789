import type { Admin } from "kafkajs";
import { UnavailableError } from "../../errors/error-kind.ts";
import { LANES, type Lane } from "../../job/priority.ts";

/** The topics of one queue: one per lane, where retries wait, where dead letters go. */
export interface KafkaTopics {
  lanes: Record<Lane, string>;
  retry: string;
  dead: string;
  /** Ids of dead letters already replayed (a topic cannot delete a message). */
  replayed: string;
}

export function kafkaTopics(
  name: string,
  overrides: { retry?: string | undefined; dead?: string | undefined } = {},
): KafkaTopics {
  const dead = overrides.dead || `${name}.dead`;
  return {
    lanes: Object.fromEntries(LANES.map((lane) => [lane, `${name}.${lane}`])) as Record<Lane, string>,
    retry: overrides.retry || `${name}.retry`,
    dead,
    replayed: `${dead}.replayed`,
  };
}

export function allTopics(topics: KafkaTopics): string[] {
  return [...LANES.map((lane) => topics.lanes[lane]), topics.retry, topics.dead, topics.replayed];
}

/** Message headers as strings (kafkajs hands them out as Buffers, strings or arrays of them). */
export function headerText(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
  name: string,
): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * Creates the topics (when asked to) or checks that they exist, naming the missing ones: a worker
 * reading a topic nobody created would wait forever without saying why.
 */
export async function ensureTopics(
  admin: Pick<Admin, "listTopics" | "createTopics">,
  topics: readonly string[],
  create: { partitions: number; replicationFactor: number } | undefined,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((topic) => !existing.has(topic));
  if (missing.length === 0) return;
  if (!create)
    throw new UnavailableError(
      `kafka topics missing: ${missing.join(", ")}; create them or set queue.kafka.create_topics (KAFKA_CREATE_TOPICS=true)`,
      { code: "kafka_topics_missing" },
    );
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((topic) => ({
      topic,
      numPartitions: create.partitions,
      replicationFactor: create.replicationFactor,
    })),
  });
}
