import { describe, expect, it } from "vitest";
import { scanDeadLetters } from "./dead-letter-scan.ts";
import { MemoryQueue, MemoryQueueState } from "./memory/memory-queue.ts";

async function queueWithLetters(reasons: readonly string[]): Promise<MemoryQueue> {
  const queue = new MemoryQueue({
    state: new MemoryQueueState(),
    visibilityTimeoutMs: 60_000,
    pollIntervalMs: 10,
    fairShare: 0,
  });
  for (const reason of reasons) {
    await queue.publish([{ body: reason, lane: "normal" }]);
    const [delivery] = await queue.fetch(1);
    if (delivery) await queue.deadLetter(delivery, reason);
  }
  return queue;
}

describe("scanDeadLetters", () => {
  it("says there is no next page when the last page is exactly full", async () => {
    const queue = await queueWithLetters(["a", "b", "c", "d"]);
    const first = await scanDeadLetters(queue, { limit: 2 });
    expect(first.letters.map((l) => l.reason)).toEqual(["d", "c"]);
    const second = await scanDeadLetters(queue, { limit: 2, after: first.next });
    expect(second.letters.map((l) => l.reason)).toEqual(["b", "a"]);
    expect(second.next).toBeUndefined();
  });

  it("ends a filtered page at the scan bound, maybe empty, with a position to go on from", async () => {
    const queue = await queueWithLetters(["hit", "miss", "miss", "miss", "miss", "hit"]);
    const matches = (l: { reason: string }) => l.reason === "hit";
    const first = await scanDeadLetters(queue, { limit: 10, matches, scanLimit: 3 });
    expect(first.letters.map((l) => l.reason)).toEqual(["hit"]);
    expect(first.next).toBeDefined();
    const second = await scanDeadLetters(queue, { limit: 10, matches, scanLimit: 2, after: first.next });
    expect(second.letters).toEqual([]);
    expect(second.next).toBeDefined();
    const third = await scanDeadLetters(queue, { limit: 10, matches, scanLimit: 3, after: second.next });
    expect(third.letters.map((l) => l.reason)).toEqual(["hit"]);
  });
});
