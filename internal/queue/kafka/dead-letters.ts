import type { Admin, Kafka, Producer } from "kafkajs";
import type { Lane } from "../../job/priority.ts";
import { type DeadLetter, DeadLetterPositionError } from "../queue.ts";
import { readTopic, type TopicRecord } from "./topic-reader.ts";
import { headerText, type KafkaTopics } from "./topics.ts";

interface DeadLettersOptions {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  topics: KafkaTopics;
  /** Prefix of the throwaway groups that read the dead-letter topics. */
  groupId: string;
}

/**
 * Lists and replays the dead-letter topic. A topic cannot delete a message, so a replay is recorded
 * in the `replayed` topic (keyed by the letter's id) and replayed letters are left out from then on.
 */
export class DeadLetters {
  readonly #options: DeadLettersOptions;

  constructor(options: DeadLettersOptions) {
    this.#options = options;
  }

  /**
   * Newest first, after the letter `after` (an id). The topic keeps replayed letters, so the order
   * still knows where one stood; one that retention removed can no longer be continued from.
   */
  async list(limit: number, after?: string): Promise<DeadLetter[]> {
    if (after !== undefined && !LETTER_ID.test(after)) throw new DeadLetterPositionError(after);
    const [letters, replayed] = await Promise.all([
      this.#read(this.#options.topics.dead),
      this.#replayedIds(),
    ]);
    const ordered = letters.sort(
      (a, b) =>
        Number(b.message.timestamp) - Number(a.message.timestamp) ||
        b.offset - a.offset ||
        b.partition - a.partition,
    );
    let start = 0;
    if (after !== undefined) {
      start = ordered.findIndex((r) => letterId(r) === after) + 1;
      if (start === 0) throw new DeadLetterPositionError(after);
    }
    const page: DeadLetter[] = [];
    for (let i = start; i < ordered.length && page.length < limit; i++) {
      const r = ordered[i] as TopicRecord;
      if (replayed.has(letterId(r))) continue;
      page.push({
        id: letterId(r),
        lane: laneOf(r),
        body: r.message.value?.toString() ?? "",
        reason: headerText(r.message.headers, "reason") ?? "",
        attempt: Number(headerText(r.message.headers, "attempt") ?? 0) || 0,
        failed_at: new Date(headerText(r.message.headers, "failed_at") ?? Number(r.message.timestamp)),
      });
    }
    return page;
  }

  /** Puts the letter back on its lane as a fresh message; false when there is no such letter left. */
  async replay(id: string): Promise<boolean> {
    const match = LETTER_ID.exec(id);
    if (!match) return false;
    const { topics, producer } = this.#options;
    const [letters, replayed] = await Promise.all([this.#read(topics.dead), this.#replayedIds()]);
    if (replayed.has(id)) return false;
    const letter = letters.find((r) => r.partition === Number(match[1]) && r.offset === Number(match[2]));
    if (!letter) return false;
    await producer.sendBatch({
      topicMessages: [
        {
          topic: topics.lanes[laneOf(letter)] ?? topics.lanes.normal,
          messages: [{ value: letter.message.value }],
        },
        { topic: topics.replayed, messages: [{ key: id, value: id }] },
      ],
    });
    return true;
  }

  #read(topic: string): Promise<TopicRecord[]> {
    const { kafka, admin, groupId } = this.#options;
    return readTopic(kafka, admin, topic, { groupPrefix: groupId });
  }

  async #replayedIds(): Promise<Set<string>> {
    const records = await this.#read(this.#options.topics.replayed);
    return new Set(records.map((r) => r.message.key?.toString() ?? ""));
  }
}

const LETTER_ID = /^(\d+):(\d+)$/;

const letterId = (record: TopicRecord) => `${record.partition}:${record.offset}`;

const laneOf = (record: TopicRecord) => (headerText(record.message.headers, "lane") ?? "normal") as Lane;
