import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../until.ts";
import { type HostileService, startHostileService } from "./hostile-service.ts";

const TRACKING_BASE = "https://track.shop.example";

/**
 * The smaller ways a send-scope client or an anonymous caller could corrupt state or turn a
 * refusal into a 500: each gets a 4xx naming what is wrong, and nothing already accepted is lost.
 */
describe("smaller holes", () => {
  let service: HostileService;
  beforeAll(async () => {
    service = await startHostileService({
      TRACKING_OPENS: "tracked_*",
      TRACKING_CLICKS: "tracked_*",
      TRACKING_BASE_URL: TRACKING_BASE,
      TRACKING_SECRET: "hostile-test-tracking-secret-not-real",
      SES_TOPIC_ARNS: "arn:aws:sns:us-east-1:123456789012:ses-events",
    });
  });
  afterAll(async () => service?.close());

  const job = (overrides: Record<string, unknown> = {}) => ({
    type: "hole",
    recipient_email: "ada@example.org",
    subject: "hello",
    text: "hello",
    ...overrides,
  });

  /** Waits for the sink to receive the job; its raw message. */
  async function received(id: string): Promise<string> {
    const find = () => service.sink.messages.find((m) => m.header("X-Email-Job-Id") === id);
    await until(async () => find() !== undefined, 20_000, `job ${id} at the SMTP server`);
    return find()?.raw ?? "";
  }

  it("answers a batch with a bad item one result per item, queueing the good ones, never 500", async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const answer = await service.post("/v1/emails", {
      jobs: [
        job({ id: ids[0] }),
        job({ id: ids[1], recipient_email: "not an address" }),
        job({ id: ids[2], subject: "a\u0000b" }),
        "not a job",
        job({ id: randomUUID(), tracked: true }),
      ],
    });
    expect(answer.status).toBe(207);
    const results = answer.body.results as Record<string, unknown>[];
    expect(results).toHaveLength(5);
    expect(results[0]).toMatchObject({ job_id: ids[0] });
    expect(JSON.stringify(results[1])).toMatch(/recipient_email/);
    expect(JSON.stringify(results[2])).toMatch(/subject/);
    expect(results[3]?.error).toBeDefined();
    expect(results[4]).toMatchObject({ tracked: true });
    await received(ids[0] as string);
  });

  it("refuses a second tracked job with the same id, and a fast-path job reusing a tracked id, with 409", async () => {
    const id = randomUUID();
    expect((await service.post("/v1/emails", job({ id, tracked: true }))).status).toBe(202);
    const again = await service.post("/v1/emails", job({ id, tracked: true }));
    expect(again.status).toBe(409);
    const fastPath = await service.post("/v1/emails", job({ id }));
    expect(fastPath.status).toBe(409);
    expect(JSON.stringify(fastPath.body)).toContain(id);
  });

  it("refuses control characters in headers and invalid UTF-8 in bodies at intake, naming the field", async () => {
    for (const [field, value] of [
      ["subject", "Hello\u0000"],
      ["subject", "Hello\u000b"],
      ["subject", "Hello\u000c"],
      ["recipient_name", "Ada\u0007"],
    ] as const) {
      const answer = await service.post("/v1/emails", job({ [field]: value }));
      expect(answer.status, `${field} ${JSON.stringify(value)}`).toBe(400);
      expect(JSON.stringify(answer.body)).toContain(field);
    }
    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"type":"hole","recipient_email":"ada@example.org","subject":"hi","text":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}'),
    ]);
    const answer = await fetch(`${service.base}/v1/emails`, {
      method: "POST",
      headers: { "x-api-key": "hostile-test-send-key" },
      body: invalidUtf8,
    });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toMatch(/UTF-8/);
  });

  it("answers malformed SES webhook posts with 400, not 500, and refuses certificates off AWS", async () => {
    for (const body of ["null", "[]", "{}", '{"Type":"Notification"}', "not json"]) {
      const answer = await service.post("/webhooks/ses", body, { "content-type": "text/plain" });
      expect(answer.status, body).toBeGreaterThanOrEqual(400);
      expect(answer.status, body).toBeLessThan(500);
    }
    const forged = await service.post(
      "/webhooks/ses",
      {
        Type: "Notification",
        MessageId: randomUUID(),
        TopicArn: "arn:aws:sns:us-east-1:123456789012:ses-events",
        Message: "{}",
        Timestamp: new Date().toISOString(),
        SignatureVersion: "2",
        Signature: "AAAA",
        SigningCertURL: "https://sns.us-east-1.amazonaws.com.evil.example:8443/cert.pem",
      },
      { "content-type": "text/plain" },
    );
    expect(forged.status).toBe(403);
    expect(JSON.stringify(forged.body)).toMatch(/SigningCertURL/);
  });

  it("records one open however often a pixel is fetched, and answers a link with a line break without 500", async () => {
    const id = randomUUID();
    const posted = await service.post(
      "/v1/emails",
      job({
        id,
        type: "tracked_receipt",
        tracked: true,
        html: '<p>Hi</p><a href="https://shop.example/a\r\nSet-Cookie: session=stolen">order</a>',
      }),
    );
    expect(posted.status).toBe(202);
    const raw = (await received(id)).replace(/=\r\n/g, "").replace(/=3D/g, "=");
    const links = [...raw.matchAll(new RegExp(`${TRACKING_BASE}(/t/[oc]/[A-Za-z0-9_.-]+)`, "g"))].map(
      (m) => m[1],
    );
    const pixel = links.find((path) => path?.startsWith("/t/o/"));
    expect(pixel).toBeDefined();
    for (let i = 0; i < 50; i++) expect((await fetch(`${service.base}${pixel}`)).status).toBe(200);

    for (const click of links.filter((path) => path?.startsWith("/t/c/"))) {
      const answer = await fetch(`${service.base}${click}`, { redirect: "manual" });
      expect(answer.status).toBeLessThan(500);
      expect(answer.headers.get("set-cookie")).toBeNull();
      expect(answer.headers.get("location") ?? "").not.toMatch(/[\r\n]/);
    }

    const { events } = (await service.get(`/v1/emails/${id}`)).body.job as { events: { status: string }[] };
    expect(events.filter((e) => e.status === "opened")).toHaveLength(1);
  });
});
