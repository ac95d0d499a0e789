import { describe, expect, it } from "vitest";
import { gateTimings } from "./gate-timings.ts";

describe("gateTimings", () => {
  it("waits at most half the job's time, and never over 5 s", () => {
    expect(gateTimings(4_000).maxWaitMs).toBe(2_000);
    expect(gateTimings(30_000).maxWaitMs).toBe(5_000);
  });

  it("frees a slot 5 s after the longest send", () => {
    expect(gateTimings(30_000).leaseMs).toBe(35_000);
  });
});
