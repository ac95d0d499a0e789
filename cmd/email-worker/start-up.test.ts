import { describe, expect, it } from "vitest";
import { undoWith } from "./start-up.ts";

async function failingStep(closed: string[]): Promise<void> {
  await using undo = new AsyncDisposableStack();
  undoWith(undo, async () => void closed.push("database"));
  undoWith(undo, async () => {
    closed.push("queue");
    throw new Error("queue close failed");
  });
  throw new Error("providers failed");
}

describe("undoWith", () => {
  it("closes what opened, newest first, and reports the failed step's own error", async () => {
    const closed: string[] = [];
    await expect(failingStep(closed)).rejects.toThrow(/^providers failed$/);
    expect(closed).toEqual(["queue", "database"]);
  });

  it("closes nothing once start-up has moved the closes out", async () => {
    const closed: string[] = [];
    {
      await using undo = new AsyncDisposableStack();
      undoWith(undo, async () => void closed.push("database"));
      undo.move();
    }
    expect(closed).toEqual([]);
  });
});
