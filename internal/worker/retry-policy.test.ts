import { describe, expect, it } from "vitest";
import { RetryPolicy } from "./retry-policy.ts";

const m = 60_000;

describe("RetryPolicy", () => {
  it("expresses the Go service's 5m → 15m → 45m → 1h schedule", () => {
    const policy = new RetryPolicy({ baseDelayMs: 5 * m, factor: 3, maxDelayMs: 60 * m, jitter: 0 });
    expect([1, 2, 3, 4, 5].map((a) => policy.delayMs(a))).toEqual([5 * m, 15 * m, 45 * m, 60 * m, 60 * m]);
  });

  it("doubles from the base by default and never exceeds the cap with jitter", () => {
    const exact = new RetryPolicy({ baseDelayMs: 5_000, factor: 2, maxDelayMs: 3_600_000, jitter: 0 });
    expect([1, 2, 3].map((a) => exact.delayMs(a))).toEqual([5_000, 10_000, 20_000]);
    // random() is the jitter drawn: 1 takes the whole jitter off, 0 none of it.
    const jittered = (random: number) =>
      new RetryPolicy({
        baseDelayMs: 5_000,
        factor: 2,
        maxDelayMs: 8_000,
        jitter: 0.5,
        random: () => random,
      });
    expect(jittered(1).delayMs(1)).toBe(2_500);
    expect(jittered(1).delayMs(9)).toBe(4_000);
    expect(jittered(0).delayMs(9)).toBe(8_000);
  });

  it("refuses nonsense settings", () => {
    expect(() => new RetryPolicy({ baseDelayMs: 10, factor: 0.5, maxDelayMs: 100, jitter: 0 })).toThrow(
      RangeError,
    );
    expect(() => new RetryPolicy({ baseDelayMs: 10, factor: 2, maxDelayMs: 100, jitter: 2 })).toThrow(
      RangeError,
    );
  });
});
