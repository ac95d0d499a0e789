import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { openMigratedRouter, silentLogger } from "../../test/store.ts";
import { PostgresIdempotencyStore } from "../queue/postgres/postgres-idempotency-store.ts";
import { PostgresQueue } from "../queue/postgres/postgres-queue.ts";
import { ApiKeyAuth } from "../server/auth/api-key-auth.ts";
import { HealthMonitor } from "../server/http/health-monitor.ts";
import { HttpServer } from "../server/http/http-server.ts";
import { EmailService } from "../service/email-service.ts";
import type { DatabaseRouter } from "../store/database-router.ts";
import { JobRepository } from "../store/job-repository.ts";
import { SuppressionRepository } from "../store/suppression-repository.ts";
import { TrackingRepository } from "../store/tracking-repository.ts";
import { LinkEvents } from "./link-events.ts";
import { LinkTokens } from "./link-tokens.ts";

/** The service's own tracking links, over real HTTP, recording into a real database. */
describe("open pixel, click redirects and one-click unsubscribe", () => {
  const tokens = new LinkTokens("tracking-test-secret-0123456789");
  let database: TestDatabase;
  let router: DatabaseRouter;
  let server: HttpServer;
  let base: string;
  let jobs: JobRepository;
  let tracking: TrackingRepository;
  let suppressions: SuppressionRepository;
  let jobId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url });
    jobs = new JobRepository(router);
    tracking = new TrackingRepository(router);
    suppressions = new SuppressionRepository(router);
    server = new HttpServer({
      port: 0,
      host: "127.0.0.1",
      service: new EmailService({
        queue: new PostgresQueue({ db: router.master, visibilityTimeoutMs: 60_000, pollIntervalMs: 100 }),
        jobs,
        tracking,
        idempotency: new PostgresIdempotencyStore(router.master),
        suppressions,
        defaultMaxRetries: 3,
        logger: silentLogger,
      }),
      auth: new ApiKeyAuth([]),
      health: new HealthMonitor({
        version: "test",
        checkQueue: async () => {},
        checkDatabase: async () => {},
        replicaState: () => "none",
        providers: () => ({}),
        lastConsumerTick: () => new Date(),
        livenessThresholdMs: 60_000,
      }),
      registry: new Registry(),
      links: { tokens, events: new LinkEvents({ jobs, tracking, suppressions, logger: silentLogger }) },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${await server.start()}`;
    const job = await jobs.create({ job_type: "newsletter", recipient_email: "ada@example.org" });
    await jobs.claim(job.id, 60_000);
    await jobs.markSent(job.id);
    // Sent a minute ago: opens now are a reader's, not a scanner's.
    await router.master
      .updateTable("email_jobs")
      .set({ sent_at: new Date(Date.now() - 60_000) })
      .where("id", "=", job.id)
      .execute();
    jobId = job.id;
  });

  afterAll(async () => {
    await server?.stop();
    await router?.destroy();
    await database?.drop();
  });

  it("serves the pixel and records opens, flagging image proxies as machine opens", async () => {
    const pixel = `${base}/t/o/${tokens.sign({ k: "o", j: jobId })}.gif`;
    const human = await fetch(pixel, { headers: { "user-agent": "Mozilla/5.0 Thunderbird" } });
    expect(human.status).toBe(200);
    expect(human.headers.get("content-type")).toBe("image/gif");
    expect((await human.arrayBuffer()).byteLength).toBeGreaterThan(20);
    await fetch(pixel, { headers: { "user-agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)" } });
    const opens = (await tracking.listForJob(jobId)).filter((e) => e.status === "opened");
    expect(opens.map((o) => o.machine_open)).toEqual([false, true]);
  });

  it("redirects a signed click to its URL and records it; an unsigned or tampered one is 404 and goes nowhere", async () => {
    const token = tokens.sign({ k: "c", j: jobId, u: "https://example.com/offer?id=7" });
    const click = await fetch(`${base}/t/c/${token}`, { redirect: "manual" });
    expect(click.status).toBe(302);
    expect(click.headers.get("location")).toBe("https://example.com/offer?id=7");
    expect((await tracking.listForJob(jobId)).some((e) => e.status === "clicked")).toBe(true);

    const forgedPayload = Buffer.from(
      JSON.stringify({ k: "c", j: jobId, u: "https://evil.example" }),
    ).toString("base64url");
    const forged = await fetch(`${base}/t/c/${forgedPayload}.${token.split(".")[1]}`, { redirect: "manual" });
    expect(forged.status).toBe(404);
    expect(forged.headers.get("location")).toBeNull();
    expect((await fetch(`${base}/t/c/not-a-token`, { redirect: "manual" })).status).toBe(404);
    // A pixel token is not a click token.
    expect(
      (await fetch(`${base}/t/c/${tokens.sign({ k: "o", j: jobId })}`, { redirect: "manual" })).status,
    ).toBe(404);
  });

  it("unsubscribes on the one-click POST only, never on a GET", async () => {
    const url = `${base}/t/u/${tokens.sign({ k: "u", j: jobId, e: "Reader@Example.org" })}`;
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect(await suppressions.find("reader@example.org")).toBeUndefined();
    const done = await fetch(url, { method: "POST", body: "List-Unsubscribe=One-Click" });
    expect(done.status).toBe(200);
    expect(await suppressions.find("reader@example.org")).toMatchObject({
      reason: "unsubscribe",
      source: "list-unsubscribe",
    });
  });
});
