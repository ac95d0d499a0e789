import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../../test/http-server.ts";

/** POST /v1/emails batches over real HTTP into a real database and postgres queue. */
describe("intake batches and client-chosen ids", () => {
  let harness: TestHttpServer;

  beforeAll(async () => {
    harness = await startTestHttpServer();
  });

  afterAll(async () => harness?.close());

  const post = (body: unknown) =>
    fetch(`${harness.base}/v1/emails`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  const job = (fields: Record<string, unknown> = {}) => ({
    type: "welcome_email",
    recipient_email: `user-${randomUUID().slice(0, 8)}@example.org`,
    subject: "Hi",
    text: "Hello",
    ...fields,
  });
  const queued = async () => Object.values((await harness.queue.stats()).lanes).reduce((a, b) => a + b, 0);

  it("answers 207 to a batch with a null item and a taken tracked id, queueing the good items once", async () => {
    const first = await post(job({ tracked: true }));
    expect(first.status).toBe(202);
    const { job_id: taken } = (await first.json()) as { job_id: string };
    const before = await queued();

    const response = await post({
      jobs: [job(), null, job({ tracked: true, id: taken }), job({ tracked: true })],
    });
    expect(response.status).toBe(207);
    const { results } = (await response.json()) as { results: Record<string, unknown>[] };
    expect(results).toEqual([
      expect.objectContaining({ tracked: false, duplicate: false }),
      expect.objectContaining({ kind: "invalid_argument" }),
      expect.objectContaining({ kind: "conflict" }),
      expect.objectContaining({ tracked: true, duplicate: false }),
    ]);
    expect((await queued()) - before).toBe(2);
    const tracked = await harness.jobs.get(results[3]?.job_id as string, { consistency: "strong" });
    expect(tracked).toMatchObject({ status: "pending" });
  });

  it("answers 409 to one job that takes a tracked job's id, fast or tracked", async () => {
    const { job_id: taken } = (await (await post(job({ tracked: true }))).json()) as { job_id: string };
    const before = await queued();
    for (const tracked of [false, true]) {
      const response = await post(job({ id: taken, tracked }));
      expect(response.status, `tracked: ${tracked}`).toBe(409);
      expect(await response.json()).toMatchObject({ kind: "conflict" });
    }
    expect(await queued()).toBe(before);
  });
});
