import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../../test/http-server.ts";
import { until } from "../../../test/until.ts";
import { HealthMonitor } from "./health-monitor.ts";

/** Probes over real HTTP, against a real queue and database that the test takes away. */
describe("health, readiness and liveness endpoints", () => {
  let harness: TestHttpServer;
  let health: HealthMonitor;
  let base: string;
  let lastTick = new Date();
  let providerStates: Record<string, string> = { outbox: "closed" };

  beforeAll(async () => {
    harness = await startTestHttpServer(({ router, queue }) => {
      health = new HealthMonitor({
        version: "9.9.9",
        checkQueue: () => queue.stats(),
        checkDatabase: () => router.ping(),
        replicaState: () => router.status().state,
        providers: () => providerStates,
        lastConsumerTick: () => lastTick,
        livenessThresholdMs: 1_000,
        checkTimeoutMs: 1_500,
      });
      return { health };
    });
    base = harness.base;
  });

  afterAll(async () => harness?.close());

  const get = async (path: string) => {
    const response = await fetch(base + path);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("reports the Go service's /health shape", async () => {
    const { status, body } = await get("/health");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: "healthy",
      version: "9.9.9",
      queue: "connected",
      database: "connected",
      replica: "none",
      providers: { outbox: "closed" },
    });
    expect(Date.parse(body.timestamp as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.uptime).toMatch(/^\d+[dhms]/);
  });

  it("reports degraded, still ready, while a provider's circuit is open", async () => {
    providerStates = { outbox: "closed", sendgrid: "open" };
    const { status, body } = await get("/health");
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "degraded", providers: { sendgrid: "open" } });
    expect((await get("/readyz")).status).toBe(200);
    providerStates = { outbox: "closed" };
  });

  it("is live while the consume loop turns, and not once it stalls", async () => {
    lastTick = new Date();
    expect((await get("/livez")).status).toBe(200);
    lastTick = new Date(Date.now() - 5_000);
    const stalled = await get("/livez");
    expect(stalled.status).toBe(503);
    expect(stalled.body.live).toBe(false);
    lastTick = new Date();
  });

  it("stops being ready while draining, and refuses new jobs, while the probes still answer", async () => {
    expect((await get("/readyz")).status).toBe(200);
    health.startDraining();
    const draining = await get("/readyz");
    expect(draining.status).toBe(503);
    expect(draining.body).toMatchObject({ draining: true, status: "degraded" });
    const refused = await fetch(`${base}/v1/emails`, {
      method: "POST",
      body: JSON.stringify({ type: "t", recipient_email: "a@example.org", subject: "s", text: "t" }),
    });
    expect(refused.status).toBe(503);
    expect((await get("/livez")).status).toBe(200);
  });

  it("reports unhealthy and not ready when the database goes away", async () => {
    await harness.database.drop();
    // Probes share one check made at most once a second: the drop shows by the next one.
    await until(async () => (await get("/health")).status === 503, 3_000, "/health to fail");
    const health = await get("/health");
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({
      status: "unhealthy",
      database: "disconnected",
      queue: "disconnected",
    });
    expect((await get("/readyz")).status).toBe(503);
  });
});
