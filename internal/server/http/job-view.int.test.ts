import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../../test/http-server.ts";

/** GET /v1/emails/<id> over real HTTP: the job view the gRPC API gives, not the database row. */
describe("GET /v1/emails/<id>", () => {
  let harness: TestHttpServer;
  beforeAll(async () => {
    harness = await startTestHttpServer();
  });
  afterAll(async () => harness?.close());

  it("shows a tracked job as its view: the request's priority word, no bookkeeping, no unrendered bodies", async () => {
    const key = `order-${randomUUID()}`;
    const posted = await fetch(`${harness.base}/v1/emails`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        type: "receipt",
        recipient_email: "ada@example.org",
        subject: "Your receipt",
        html: "<p>{{total}}</p>",
        template_data: { total: "12.50" },
        priority: "high",
        tracked: true,
        idempotency_key: key,
        metadata: { order: "A-1" },
      }),
    });
    expect(posted.status).toBe(202);
    const { job_id } = (await posted.json()) as { job_id: string };

    const answer = await fetch(`${harness.base}/v1/emails/${job_id}`);
    expect(answer.status).toBe(200);
    const { job } = (await answer.json()) as { job: Record<string, unknown> };
    expect(job).toMatchObject({
      id: job_id,
      type: "receipt",
      recipient_email: "ada@example.org",
      status: "pending",
      priority: "high",
      subject: "Your receipt",
      idempotency_key: key,
      metadata: { order: "A-1" },
      events: [],
    });
    for (const rowOnly of [
      "locked_until",
      "enqueued_at",
      "html_body",
      "text_body",
      "template_data",
      "job_type",
    ])
      expect(job).not.toHaveProperty(rowOnly);
  });
});
