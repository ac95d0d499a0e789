import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["1s", 1_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1_500],
    ["2d", 172_800_000],
    ["250", 250],
    [1000, 1000],
  ])("reads %s as %d ms", (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each(["", "5 minutes", "1x", "-1s", "s", "1h 30m", Number.NaN, -5, null])("rejects %s", (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it("writes durations the way they are configured", () => {
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(1_500)).toBe("1s500ms");
    expect(formatDuration(0)).toBe("0s");
  });
});
