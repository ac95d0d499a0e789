import { EventEmitter } from "node:events";
import type { Consumer } from "kafkajs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConsumerRevival, consumerDownError } from "./consumer-revival.ts";

/** The part of a kafkajs consumer the revival listens to. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const events = { CRASH: "consumer.crash", GROUP_JOIN: "consumer.group_join" };
  const consumer = {
    events,
    on(event: string, listener: (e: unknown) => void) {
      emitter.on(event, listener);
      return () => emitter.off(event, listener);
    },
  } as unknown as Consumer;
  return {
    consumer,
    crash: (error: Error, restart: boolean) => emitter.emit(events.CRASH, { payload: { error, restart } }),
    join: () => emitter.emit(events.GROUP_JOIN, { payload: {} }),
  };
}

describe("ConsumerRevival", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("leaves a crash kafkajs restarts itself to kafkajs", () => {
    const fake = fakeConsumer();
    const start = vi.fn(async () => {});
    const revival = new ConsumerRevival(fake.consumer, { name: "kafka consumer", start });
    fake.crash(new Error("connection reset"), true);
    vi.advanceTimersByTime(60_000);
    expect(revival.down()).toBeUndefined();
    expect(start).not.toHaveBeenCalled();
  });

  it("starts a consumer kafkajs gave up on again, backing off while starts fail, until it rejoins", async () => {
    const fake = fakeConsumer();
    const start = vi.fn(async (): Promise<void> => {
      throw new Error("brokers unreachable");
    });
    const revival = new ConsumerRevival(fake.consumer, { name: "kafka consumer", start, maxDelayMs: 4_000 });
    fake.crash(new Error("Not authorized to access topics"), false);
    const since = revival.down()?.since;
    expect(String(revival.down()?.error)).toContain("Not authorized");

    await vi.advanceTimersByTimeAsync(999);
    expect(start).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(start).toHaveBeenCalledTimes(1);
    // The latest reason, still down since the crash.
    expect(String(revival.down()?.error)).toContain("brokers unreachable");
    expect(revival.down()?.since).toBe(since);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(start).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(start).toHaveBeenCalledTimes(3);
    // Capped at maxDelayMs.
    await vi.advanceTimersByTimeAsync(4_000);
    expect(start).toHaveBeenCalledTimes(4);

    start.mockImplementation(async () => {});
    await vi.advanceTimersByTimeAsync(4_000);
    fake.join();
    expect(revival.down()).toBeUndefined();
    // The next crash starts from the first delay again.
    fake.crash(new Error("Not authorized to access topics"), false);
    const calls = start.mock.calls.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(start).toHaveBeenCalledTimes(calls + 1);
  });

  it("stops starting it once closed", async () => {
    const fake = fakeConsumer();
    const start = vi.fn(async () => {});
    const revival = new ConsumerRevival(fake.consumer, { name: "kafka consumer", start });
    fake.crash(new Error("Not authorized"), false);
    revival.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(start).not.toHaveBeenCalled();
  });

  it("names the consumer, when it stopped and why in the error fetches give", () => {
    const error = consumerDownError("kafka retry relay", {
      error: new Error("Not authorized to access topics"),
      since: new Date("2026-12-04T03:00:00Z"),
    });
    expect(error.message).toBe(
      "kafka retry relay stopped at 2026-12-04T03:00:00.000Z (Not authorized to access topics) and is being started again",
    );
  });
});
