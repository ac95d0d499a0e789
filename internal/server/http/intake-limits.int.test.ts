import { randomBytes } from "node:crypto";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../../test/http-server.ts";
import { loopbackSmtpProvider } from "../../../test/providers.ts";
import { startSmtpSink } from "../../../test/smtp-sink.ts";
import { JOB_LIMITS } from "../../job/parse-job.ts";
import { decodeQueueMessage } from "../../job/queue-message.ts";
import { MAX_BODY_BYTES } from "./http-io.ts";

/** The size limits of POST /v1/emails over real HTTP: the same job limits as gRPC, named when hit. */
describe("intake size limits over HTTP", () => {
  let harness: TestHttpServer;
  beforeAll(async () => {
    harness = await startTestHttpServer();
  });
  afterAll(async () => harness?.close());

  const post = (body: string) =>
    fetch(`${harness.base}/v1/emails`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
  const withAttachment = (content: Buffer) =>
    JSON.stringify({
      type: "invoice",
      recipient_email: "ada@example.org",
      subject: "Your invoice",
      text: "Attached.",
      attachments: [{ filename: "invoice.bin", content: content.toString("base64") }],
    });

  it("takes a 9 MiB attachment and delivers it intact over SMTP", async () => {
    const content = randomBytes(9 * 1024 * 1024);
    const answer = await post(withAttachment(content));
    expect(answer.status).toBe(202);
    const { job_id } = (await answer.json()) as { job_id: string };
    const [delivery] = await harness.queue.fetch(1);
    const message = decodeQueueMessage(delivery?.body ?? "", () => job_id);
    if (message.kind !== "job") throw new Error("expected the whole job on the queue");
    const sink = await startSmtpSink();
    const smtp = loopbackSmtpProvider(sink.port, { poolSize: 1, timeoutMs: 30_000 });
    try {
      const job = message.job;
      await smtp.send({
        job_id: job.id,
        job_type: job.type,
        to: { email: job.recipient_email },
        subject: job.subject ?? "",
        text: job.text ?? "",
        headers: {},
        attachments: job.attachments,
      });
      const parsed = await simpleParser(sink.messages[0]?.raw ?? "");
      expect(job.id).toBe(job_id);
      expect(parsed.attachments[0]?.content.equals(content)).toBe(true);
    } finally {
      await smtp.close();
      await sink.close();
    }
  }, 60_000);

  it("refuses an 11 MiB attachment with 400 naming the attachment limit", async () => {
    const answer = await post(withAttachment(Buffer.alloc(11 * 1024 * 1024, 1)));
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({
      violations: [
        { field: "attachments", description: `total more than ${JOB_LIMITS.attachment_bytes_total} bytes` },
      ],
    });
  }, 60_000);

  it("refuses a body larger than any valid job with 413 naming the body limit, unread", async () => {
    const answer = await post("x".repeat(MAX_BODY_BYTES + 1));
    expect(answer.status).toBe(413);
    expect(await answer.json()).toMatchObject({ error: `request body over ${MAX_BODY_BYTES} bytes` });
  }, 60_000);
});
