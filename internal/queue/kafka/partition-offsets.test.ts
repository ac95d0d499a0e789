import { describe, expect, it } from "vitest";
import { PartitionOffsets } from "./partition-offsets.ts";

describe("partition offsets", () => {
  it("commits nothing while the first message is unfinished, however many after it finish", () => {
    const offsets = new PartitionOffsets(10);
    for (const o of [10, 11, 12, 13]) offsets.start(o);
    expect(offsets.finish(12)).toBe(false);
    expect(offsets.finish(13)).toBe(false);
    expect(offsets.finish(11)).toBe(false);
    expect(offsets.pendingCommit).toBeUndefined();
    expect(offsets.unfinished).toBe(1);
    expect(offsets.finish(10)).toBe(true);
    expect(offsets.pendingCommit).toBe(14);
    expect(offsets.unfinished).toBe(0);
  });

  it("commits up to the first gap, and past it once the gap finishes", () => {
    const offsets = new PartitionOffsets(0);
    for (const o of [0, 1, 2, 3, 4]) offsets.start(o);
    offsets.finish(0);
    offsets.finish(1);
    offsets.finish(3);
    expect(offsets.pendingCommit).toBe(2);
    offsets.committed(2);
    expect(offsets.pendingCommit).toBeUndefined();
    offsets.finish(2);
    expect(offsets.pendingCommit).toBe(4);
  });

  it("handles offsets with holes (compacted or transactional partitions)", () => {
    const offsets = new PartitionOffsets(5);
    offsets.start(7);
    offsets.start(9);
    offsets.finish(9);
    expect(offsets.pendingCommit).toBeUndefined();
    offsets.finish(7);
    expect(offsets.pendingCommit).toBe(10);
  });

  it("knows what it has seen, so a refetch after a rebalance is not handed out twice", () => {
    const offsets = new PartitionOffsets(3);
    expect(offsets.seen(2)).toBe(true);
    expect(offsets.seen(3)).toBe(false);
    offsets.start(3);
    offsets.start(4);
    expect(offsets.seen(4)).toBe(true);
    expect(offsets.next).toBe(5);
    expect(() => offsets.start(4)).toThrow(/started twice/);
  });

  it("ignores a second finish of the same offset", () => {
    const offsets = new PartitionOffsets(0);
    offsets.start(0);
    offsets.start(1);
    offsets.finish(1);
    expect(offsets.finish(1)).toBe(false);
    expect(offsets.unfinished).toBe(1);
  });

  it("never commits past an unfinished offset under any completion order", () => {
    for (let round = 0; round < 200; round++) {
      const count = 1 + Math.floor(Math.random() * 40);
      const offsets = new PartitionOffsets(100);
      for (let o = 100; o < 100 + count; o++) offsets.start(o);
      const order = Array.from({ length: count }, (_, i) => 100 + i).sort(() => Math.random() - 0.5);
      const done = new Set<number>();
      for (const o of order) {
        offsets.finish(o);
        done.add(o);
        const commit = offsets.pendingCommit ?? 100;
        for (let below = 100; below < commit; below++) expect(done.has(below)).toBe(true);
        expect(done.has(commit)).toBe(false);
      }
      expect(offsets.pendingCommit).toBe(100 + count);
    }
  });
});
