import { describe, expect, it } from "vitest";
import { UnavailableError } from "../errors/error-kind.ts";
import { CampaignStates } from "./campaign-states.ts";
import type { CampaignStatus } from "./campaign-status.ts";

function statesOver(stored: Map<string, CampaignStatus>) {
  let now = 0;
  const reads: string[] = [];
  let failing = false;
  const states = new CampaignStates({
    read: async (id) => {
      reads.push(id);
      if (failing) throw new UnavailableError("database unavailable");
      return stored.get(id);
    },
    maxAgeMs: 500,
    now: () => now,
  });
  return {
    states,
    reads,
    advance: (ms: number) => {
      now += ms;
    },
    fail: (value: boolean) => {
      failing = value;
    },
  };
}

describe("CampaignStates", () => {
  it("reads a campaign once for all the jobs asking within its max age, and again after it", async () => {
    const stored = new Map<string, CampaignStatus>([["c1", "running"]]);
    const { states, reads, advance } = statesOver(stored);
    expect(await Promise.all([states.status("c1"), states.status("c1"), states.status("c1")])).toEqual([
      "running",
      "running",
      "running",
    ]);
    expect(reads).toEqual(["c1"]);
    stored.set("c1", "paused");
    advance(499);
    expect(await states.status("c1")).toBe("running");
    advance(1);
    expect(await states.status("c1")).toBe("paused");
    expect(reads).toEqual(["c1", "c1"]);
    expect(await states.status("gone")).toBeUndefined();
  });

  it("keeps the last status known while the database cannot be read, and throws when it knows none", async () => {
    const { states, advance, fail } = statesOver(new Map([["c1", "paused"]]));
    expect(await states.status("c1")).toBe("paused");
    fail(true);
    advance(1_000);
    expect(await states.status("c1")).toBe("paused");
    await expect(states.status("c2")).rejects.toBeInstanceOf(UnavailableError);
    fail(false);
    expect(await states.status("c2")).toBeUndefined();
  });
});
