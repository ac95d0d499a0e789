import type { Admin } from "kafkajs";
import { LANES, type Lane } from "../../job/priority.ts";
import type { QueueStats } from "../queue.ts";
import type { KafkaTopics } from "./topics.ts";

type TopicEnds = Awaited<ReturnType<Admin["fetchTopicOffsets"]>>;
type GroupOffsets = Awaited<ReturnType<Admin["fetchOffsets"]>>;

/**
 * The queue's depth from the admin offsets: what the groups have not committed yet (lanes, less
 * what this consumer holds; the retry topic) and the dead letters not replayed. Reads only.
 */
export async function readQueueStats(
  admin: Admin,
  topics: KafkaTopics,
  groupId: string,
  handedOut: Readonly<Record<Lane, number>>,
): Promise<QueueStats> {
  const laneTopics = LANES.map((lane) => topics.lanes[lane]);
  const [laneEnds, retryEnds, deadEnds, replayedEnds, laneCommits, retryCommits] = await Promise.all([
    Promise.all(laneTopics.map((topic) => admin.fetchTopicOffsets(topic))),
    admin.fetchTopicOffsets(topics.retry),
    admin.fetchTopicOffsets(topics.dead),
    admin.fetchTopicOffsets(topics.replayed),
    admin.fetchOffsets({ groupId, topics: laneTopics }),
    admin.fetchOffsets({ groupId: `${groupId}.retry`, topics: [topics.retry] }),
  ]);
  const lanes = { critical: 0, high: 0, normal: 0, low: 0 };
  LANES.forEach((lane, i) => {
    const waiting = lag(laneEnds[i] ?? [], committedOf(laneCommits, laneTopics[i] as string));
    lanes[lane] = Math.max(waiting - handedOut[lane], 0);
  });
  return {
    lanes,
    in_flight: LANES.reduce((sum, lane) => sum + handedOut[lane], 0),
    delayed: lag(retryEnds, committedOf(retryCommits, topics.retry)),
    dead: Math.max(size(deadEnds) - size(replayedEnds), 0),
  };
}

function committedOf(commits: GroupOffsets, topic: string): Map<number, number> {
  const partitions = commits.find((c) => c.topic === topic)?.partitions ?? [];
  return new Map(partitions.map((p) => [p.partition, Number(p.offset)]));
}

/** Messages past the group's position (the start of the partition where it has none). */
function lag(ends: TopicEnds, committed: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const p of ends) {
    const committedAt = committed.get(p.partition) ?? -1;
    const from = committedAt >= 0 ? committedAt : Number(p.low);
    total += Math.max(Number(p.high) - from, 0);
  }
  return total;
}

function size(ends: TopicEnds): number {
  return ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}
