import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../../test/http-server.ts";

/** Batches over HTTP (SendGrid's batch_id): sent together, counted and cancelled together. */
describe("HTTP batches", () => {
  let server: TestHttpServer;
  beforeAll(async () => {
    server = await startTestHttpServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  const later = () => new Date(Date.now() + 3_600_000).toISOString();
  const job = (n: number, extra: Record<string, unknown> = {}) => ({
    type: "invoice",
    recipient_email: `buyer${n}@example.org`,
    subject: "Your invoice",
    text: "Attached",
    scheduled_at: later(),
    ...extra,
  });
  const post = async (path: string, body?: unknown) => {
    const answer = await fetch(`${server.base}${path}`, {
      method: "POST",
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
  };
  const get = async (path: string) => {
    const answer = await fetch(`${server.base}${path}`);
    return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
  };

  it("tracks every job of a batch, counts them by status, and cancels the ones still waiting", async () => {
    const sent = await post("/v1/emails", {
      batch_id: "invoices-2026-12",
      jobs: [
        job(1),
        job(2),
        job(3, { batch_id: "invoices-2026-12" }),
        job(4, { batch_id: "another" }),
        job(5, { tracked: false }),
      ],
    });
    expect(sent.status).toBe(207);
    const results = sent.body.results as Record<string, unknown>[];
    expect(results.slice(0, 3).every((r) => r.tracked === true)).toBe(true);
    expect(results[3]).toMatchObject({
      violations: [{ field: "batch_id", description: expect.stringContaining("not the request's") }],
    });
    expect(results[4]).toMatchObject({
      violations: [{ field: "batch_id", description: expect.stringContaining("tracked") }],
    });
    expect(sent.body.batch_id).toBe("invoices-2026-12");

    // A second request may add to the same batch.
    await post("/v1/emails", { batch_id: "invoices-2026-12", jobs: [job(6)] });
    expect((await get("/v1/batches/invoices-2026-12")).body).toEqual({
      batch_id: "invoices-2026-12",
      total: 4,
      by_status: { pending: 4 },
    });
    const first = results[0]?.job_id as string;
    expect((await get(`/v1/emails/${first}`)).body.job).toMatchObject({
      batch_id: "invoices-2026-12",
      campaign_id: null,
    });
    await server.jobs.claim(first, 30_000);

    const cancelled = await post("/v1/batches/invoices-2026-12/cancel");
    expect(cancelled.body).toEqual({
      cancelled: 3,
      batch: { batch_id: "invoices-2026-12", total: 4, by_status: { cancelled: 3, processing: 1 } },
    });
    expect((await server.jobs.list({ batch_id: "invoices-2026-12" })).jobs).toHaveLength(4);
  });

  it("names a bad or unknown batch", async () => {
    expect((await post("/v1/emails", { batch_id: "no spaces", jobs: [job(1)] })).body).toMatchObject({
      violations: [{ field: "batch_id" }],
    });
    expect((await post("/v1/emails", { batch_id: 7, jobs: [job(1)] })).status).toBe(400);
    expect((await get("/v1/batches/never-used")).status).toBe(404);
  });
});
