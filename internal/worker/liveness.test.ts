import { describe, expect, it } from "vitest";
import { livenessThresholdMs } from "./liveness.ts";

describe("livenessThresholdMs", () => {
  it("allows two of the loop's longest waits: a job's time limit plus a poll interval", () => {
    expect(livenessThresholdMs(30_000, 1_000)).toBe(62_000);
  });
});
