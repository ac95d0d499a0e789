import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../../test/http-server.ts";
import { until } from "../../../test/until.ts";
import { HealthMonitor } from "./health-monitor.ts";

/**
 * The probes share one dependency check a second: a dependency going away still shows within about
 * a second, and coming back likewise.
 */
describe("the probes' shared health check", () => {
  let harness: TestHttpServer;
  let base: string;
  let queueUp = true;

  beforeAll(async () => {
    harness = await startTestHttpServer(({ router }) => ({
      health: new HealthMonitor({
        version: "t",
        checkQueue: async () => {
          if (!queueUp) throw new Error("queue down");
        },
        checkDatabase: () => router.ping(),
        replicaState: () => router.status().state,
        providers: () => ({}),
        lastConsumerTick: () => new Date(),
        livenessThresholdMs: 60_000,
        checkTimeoutMs: 1_500,
      }),
    }));
    base = harness.base;
  });

  afterAll(async () => harness?.close());

  const status = async (path: string) => {
    const response = await fetch(base + path);
    await response.arrayBuffer();
    return response.status;
  };

  /** How long until `path` answers `expected`, polling as a probe would. */
  async function msUntil(path: string, expected: number): Promise<number> {
    const started = Date.now();
    await until(async () => (await status(path)) === expected, 5_000, `${path} to answer ${expected}`);
    return Date.now() - started;
  }

  it("turns unready within about a second of a dependency going down, and ready again after", async () => {
    expect(await status("/readyz")).toBe(200);
    queueUp = false;
    expect(await msUntil("/readyz", 503)).toBeLessThan(1_500);
    expect(await status("/health")).toBe(503);
    expect(await status("/livez")).toBe(200);
    queueUp = true;
    expect(await msUntil("/health", 200)).toBeLessThan(1_500);
    expect(await status("/readyz")).toBe(200);
  });

  it("turns unhealthy within about a second of the database going away", async () => {
    expect(await status("/health")).toBe(200);
    await harness.database.drop();
    expect(await msUntil("/health", 503)).toBeLessThan(2_500);
    expect(await status("/readyz")).toBe(503);
  });
});
