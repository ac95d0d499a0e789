import { describe, expect, it, vi } from "vitest";
import { HealthMonitor, type HealthMonitorOptions } from "./health-monitor.ts";

/** A monitor on a clock the test moves, counting the dependency checks it makes. */
function monitor(overrides: Partial<HealthMonitorOptions> = {}) {
  let now = 1_000_000;
  const checkDatabase = vi.fn(async () => {});
  const checkQueue = vi.fn(async () => {});
  const logger = { warn: vi.fn(), info: vi.fn() };
  const health = new HealthMonitor({
    version: "t",
    checkQueue,
    checkDatabase,
    replicaState: () => "none",
    providers: () => ({}),
    lastConsumerTick: () => new Date(now),
    livenessThresholdMs: 1_000,
    logger,
    now: () => now,
    ...overrides,
  });
  return {
    health,
    checkDatabase,
    checkQueue,
    logger,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("HealthMonitor's shared check", () => {
  it("makes one check for many concurrent probes", async () => {
    const { health, checkDatabase, checkQueue } = monitor();
    let answer: () => void = () => {};
    checkDatabase.mockImplementation(() => new Promise<void>((resolve) => (answer = resolve)));
    const probes = Array.from({ length: 100 }, (_, i) => (i % 2 ? health.health() : health.ready()));
    answer();
    await Promise.all(probes);
    expect(checkDatabase).toHaveBeenCalledTimes(1);
    expect(checkQueue).toHaveBeenCalledTimes(1);
  });

  it("answers from the last check within a second, and checks again after it", async () => {
    const { health, checkDatabase, advance } = monitor();
    expect((await health.health()).status).toBe("healthy");
    advance(999);
    checkDatabase.mockRejectedValue(new Error("gone"));
    expect((await health.health()).database).toBe("connected");
    expect(checkDatabase).toHaveBeenCalledTimes(1);
    advance(1);
    const report = await health.health();
    expect(checkDatabase).toHaveBeenCalledTimes(2);
    expect(report).toMatchObject({ status: "unhealthy", database: "disconnected" });
    expect((await health.ready()).ready).toBe(false);
  });

  it("reports a check that throws as unhealthy, logs it once, and logs the recovery", async () => {
    const { health, checkQueue, logger, advance } = monitor();
    checkQueue.mockImplementation(() => {
      throw new Error("redis exploded");
    });
    for (let i = 0; i < 5; i++) {
      expect(await health.health()).toMatchObject({ status: "unhealthy", queue: "disconnected" });
      advance(1_000);
    }
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]?.[0]).toMatchObject({ dependency: "queue" });
    checkQueue.mockImplementation(async () => {});
    expect((await health.health()).status).toBe("healthy");
    expect(logger.info).toHaveBeenCalledTimes(1);
  });

  it("counts a check that never answers as failed after the timeout", async () => {
    const { health } = monitor({ checkDatabase: () => new Promise(() => {}), checkTimeoutMs: 20 });
    expect(await health.health()).toMatchObject({ status: "unhealthy", database: "disconnected" });
  });

  it("reads draining and provider circuits fresh, between checks", async () => {
    let providers: Record<string, string> = { smtp: "closed" };
    const { health, checkDatabase } = monitor({ providers: () => providers });
    expect((await health.ready()).ready).toBe(true);
    providers = { smtp: "open" };
    expect((await health.health()).status).toBe("degraded");
    health.startDraining();
    expect((await health.ready()).ready).toBe(false);
    expect(checkDatabase).toHaveBeenCalledTimes(1);
  });

  it("answers liveness without touching a dependency", () => {
    const { health, checkDatabase, checkQueue } = monitor();
    expect(health.live().live).toBe(true);
    expect(checkDatabase).not.toHaveBeenCalled();
    expect(checkQueue).not.toHaveBeenCalled();
  });
});

describe("HealthMonitor and a consumer that cannot fetch", () => {
  it("stays healthy through a short blip, then reports unhealthy and not ready, naming the error", async () => {
    let failure: { since: Date; error: string } | undefined;
    const { health, advance } = monitor({ consumerFailure: () => failure, consumerFailureGraceMs: 5_000 });
    expect((await health.health()).consumer).toBe("ok");
    failure = { since: new Date(1_000_000), error: "NOGROUP No such key" };
    advance(1_000);
    expect(await health.ready()).toMatchObject({
      ready: true,
      report: { status: "healthy", consumer: "ok" },
    });
    advance(5_000);
    const { ready, report } = await health.ready();
    expect(ready).toBe(false);
    expect(report.status).toBe("unhealthy");
    expect(report.consumer).toMatch(/^fetching from the queue has failed since .*: NOGROUP No such key$/);
    failure = undefined;
    expect((await health.ready()).ready).toBe(true);
  });
});
