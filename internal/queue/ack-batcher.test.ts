import { describe, expect, it } from "vitest";
import { AckBatcher } from "./ack-batcher.ts";

describe("AckBatcher", () => {
  it("flushes items added in the same tick as one batch and settles every caller with it", async () => {
    const batches: number[][] = [];
    const batcher = new AckBatcher<number>(async (items) => {
      batches.push(items);
    });
    await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)]);
    await batcher.add(4);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it("rejects every caller of a batch whose flush fails", async () => {
    const batcher = new AckBatcher<number>(async () => {
      throw new Error("queue unreachable");
    });
    const results = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });

  it("keeps one flush on the wire: what finishes meanwhile goes in one next batch", async () => {
    const batches: number[][] = [];
    let release: () => void = () => {};
    const batcher = new AckBatcher<number>(async (items) => {
      batches.push(items);
      if (items[0] === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = batcher.add(1);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const later = [batcher.add(2)];
    await new Promise((resolve) => setImmediate(resolve));
    later.push(batcher.add(3));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1]]);
    release();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it("defers: the caller goes on at once, the batch is flushed, and a failure is reported once", async () => {
    const flushed: number[][] = [];
    const errors: unknown[] = [];
    let fail = false;
    const batcher = new AckBatcher<number>(
      async (items) => {
        flushed.push(items);
        if (fail) throw new Error("queue unreachable");
      },
      (error) => errors.push(error),
    );
    batcher.defer(1);
    batcher.defer(2);
    expect(flushed).toEqual([]);
    await batcher.drain();
    expect(flushed).toEqual([[1, 2]]);
    fail = true;
    batcher.defer(3);
    batcher.defer(4);
    await batcher.drain();
    expect(errors).toHaveLength(1);
  });

  it("drain waits for the flush in progress", async () => {
    const flushed: number[] = [];
    const batcher = new AckBatcher<number>(async (items) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      flushed.push(...items);
    });
    void batcher.add(7);
    await batcher.drain();
    expect(flushed).toEqual([7]);
  });
});
