import { describe, expect, it } from "vitest";
import { StatementBatcher } from "./statement-batcher.ts";

describe("StatementBatcher", () => {
  it("runs calls of one tick as one statement and gives each caller its own result", async () => {
    const runs: number[][] = [];
    const batcher = new StatementBatcher<number, number>(async (inputs) => {
      runs.push(inputs);
      return inputs.map((n) => n * 10);
    });
    expect(await Promise.all([batcher.call(1), batcher.call(2), batcher.call(3)])).toEqual([10, 20, 30]);
    expect(await batcher.call(4)).toBe(40);
    expect(runs).toEqual([[1, 2, 3], [4]]);
  });

  it("collects calls made while a statement is on the wire into the next one", async () => {
    const runs: number[][] = [];
    let release: () => void = () => {};
    const batcher = new StatementBatcher<number, number>(async (inputs) => {
      runs.push(inputs);
      if (inputs[0] === 1)
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      return inputs;
    });
    const first = batcher.call(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = [batcher.call(2)];
    await new Promise((resolve) => setImmediate(resolve));
    later.push(batcher.call(3));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(runs).toEqual([[1]]);
    release();
    expect(await Promise.all([first, ...later])).toEqual([1, 2, 3]);
    expect(runs).toEqual([[1], [2, 3]]);
  });

  it("rejects every caller of a failed statement, and the next statement runs", async () => {
    let fail = true;
    const batcher = new StatementBatcher<number, number>(async (inputs) => {
      if (fail) throw new Error("database unavailable");
      return inputs;
    });
    const results = await Promise.allSettled([batcher.call(1), batcher.call(2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(await batcher.call(3)).toBe(3);
  });
});
