import { describe, expect, it } from "vitest";
import { allTopics, ensureTopics, headerText, kafkaTopics } from "./topics.ts";

describe("kafka topics", () => {
  it("names one topic per lane under the queue name, with retry, dead-letter and replay topics", () => {
    expect(allTopics(kafkaTopics("email-jobs"))).toEqual([
      "email-jobs.critical",
      "email-jobs.high",
      "email-jobs.normal",
      "email-jobs.low",
      "email-jobs.retry",
      "email-jobs.dead",
      "email-jobs.dead.replayed",
    ]);
    const custom = kafkaTopics("jobs", { retry: "jobs-delayed", dead: "jobs-dlq" });
    expect([custom.retry, custom.dead, custom.replayed]).toEqual([
      "jobs-delayed",
      "jobs-dlq",
      "jobs-dlq.replayed",
    ]);
  });

  it("creates only the missing topics with the configured partitions and replication", async () => {
    const created: unknown[] = [];
    const admin = {
      listTopics: async () => ["q.critical", "q.high", "unrelated"],
      createTopics: async (options: { topics: unknown[] }) => {
        created.push(...options.topics);
        return true;
      },
    };
    await ensureTopics(admin, ["q.critical", "q.high", "q.normal", "q.retry"], {
      partitions: 6,
      replicationFactor: 3,
    });
    expect(created).toEqual([
      { topic: "q.normal", numPartitions: 6, replicationFactor: 3 },
      { topic: "q.retry", numPartitions: 6, replicationFactor: 3 },
    ]);
  });

  it("names the missing topics and the setting that would create them", async () => {
    const admin = {
      listTopics: async () => ["q.critical"],
      createTopics: async () => {
        throw new Error("must not create");
      },
    };
    await expect(ensureTopics(admin, ["q.critical", "q.low"], undefined)).rejects.toThrow(
      "kafka topics missing: q.low; create them or set queue.kafka.create_topics",
    );
  });

  it("reads header values whether kafkajs hands out Buffers, strings or arrays", () => {
    const headers = { a: Buffer.from("1"), b: "two", c: [Buffer.from("3"), "x"], d: undefined };
    expect(["a", "b", "c", "d", "e"].map((name) => headerText(headers, name))).toEqual([
      "1",
      "two",
      "3",
      undefined,
      undefined,
    ]);
  });
});
