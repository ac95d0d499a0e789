import { describe, expect, it } from "vitest";
import { BulkThrottle } from "./bulk-throttle.ts";

describe("BulkThrottle", () => {
  it("lets bulk jobs use every slot until a critical or high job is taken", () => {
    const throttle = new BulkThrottle({ concurrency: 50, share: 0.25 });
    expect(throttle.limit(0)).toBe(50);
    throttle.noteJob("normal", 0);
    throttle.noteJob("low", 0);
    expect(throttle.limit(1)).toBe(50);
    throttle.noteJob("critical", 1_000);
    expect(throttle.limit(1_000)).toBe(12);
  });

  it("holds them to their share for a minute after the last critical or high job", () => {
    const throttle = new BulkThrottle({ concurrency: 50, share: 0.25 });
    throttle.noteJob("high", 0);
    throttle.noteJob("critical", 30_000);
    expect(throttle.limit(89_999)).toBe(12);
    expect(throttle.limit(90_001)).toBe(50);
  });

  it("always leaves bulk jobs at least one slot", () => {
    const throttle = new BulkThrottle({ concurrency: 3, share: 0.1, protectForMs: 10 });
    throttle.noteJob("critical", 0);
    expect(throttle.limit(5)).toBe(1);
  });

  it("refuses a share outside (0, 1]", () => {
    expect(() => new BulkThrottle({ concurrency: 5, share: 0 })).toThrow(RangeError);
    expect(() => new BulkThrottle({ concurrency: 5, share: 1.5 })).toThrow(RangeError);
  });
});
