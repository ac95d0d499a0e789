import { describe, expect, it } from "vitest";
import { circuitStateValue, replicaUpValue } from "./delivery-gauges.ts";

describe("gauge values", () => {
  it("reports a circuit as 0 closed, 1 half-open, 2 open", () => {
    expect(["closed", "half-open", "open"].map((s) => circuitStateValue(s as "closed"))).toEqual([0, 1, 2]);
  });

  it("reports the replica up only while reads go to it", () => {
    expect(["up", "down", "none"].map((s) => replicaUpValue(s as "up"))).toEqual([1, 0, 0]);
  });
});
