import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../test/http-server.ts";
import { sendGridWebhookKeys } from "../../test/sendgrid-signing.ts";
import { silentLogger } from "../../test/store.ts";
import { EventRecorder } from "./event-recorder.ts";
import { SnsVerifier } from "./sns-verifier.ts";

const MiB = 1024 * 1024;

/** Webhooks refuse what is unsigned or too large before buffering it, over real HTTP. */
describe("webhook body limits", () => {
  const keys = sendGridWebhookKeys();
  let harness: TestHttpServer;
  let base: string;

  beforeAll(async () => {
    harness = await startTestHttpServer(({ jobs, tracking, suppressions }) => ({
      webhooks: {
        recorder: new EventRecorder({ jobs, tracking, suppressions, logger: silentLogger }),
        sendgridPublicKey: keys.publicKeyBase64,
        sns: new SnsVerifier({ certificateHost: /^127\.0\.0\.1$/, maxAgeMs: 300_000 }),
        maxAgeMs: 300_000,
      },
    }));
    ({ base } = harness);
  });

  afterAll(async () => harness?.close());

  const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: "POST", body, headers: { "content-type": "text/plain", ...headers } });

  /**
   * The status a server answers to `body`, written from the caller's buffer as it is (fetch would
   * copy it per request, and the copies would swamp what the server holds). The server may answer
   * before the body is sent: the answer is what counts, not how the upload ends.
   */
  const rawPost = (path: string, body: Buffer) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${base}${path}`, { method: "POST", agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end(body);
    });

  it("refuses 16 parallel unsigned 15 MB posts to each webhook without buffering them", async () => {
    // One body shared by every request, allocated before the baseline: what grows is the server's.
    const body = Buffer.alloc(15 * 1_000_000, 0x5b);
    const before = process.memoryUsage().rss;
    const sendgrid = await Promise.all(Array.from({ length: 16 }, () => rawPost("/webhooks/sendgrid", body)));
    const ses = await Promise.all(Array.from({ length: 16 }, () => rawPost("/webhooks/ses", body)));
    const grown = process.memoryUsage().rss - before;
    expect(sendgrid).toEqual(Array(16).fill(401));
    expect(ses).toEqual(Array(16).fill(413));
    expect(grown).toBeLessThan(50 * MiB);
  });

  it("answers 413 to a signed SendGrid body over 1 MiB", async () => {
    const body = JSON.stringify([{ email: "a@example.org", event: "delivered", pad: "x".repeat(MiB) }]);
    const response = await post("/webhooks/sendgrid", body, keys.sign(body));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ kind: "payload_too_large" });
  });

  it("answers 401 to malformed SendGrid signature headers and 403 to a stale one, before reading", async () => {
    const body = "[]";
    const signed = keys.sign(body);
    const malformed = { ...signed, "x-twilio-email-event-webhook-timestamp": "soon" };
    expect((await post("/webhooks/sendgrid", body, malformed)).status).toBe(401);
    const stale = keys.sign(body, String(Math.floor(Date.now() / 1000) - 3600));
    expect((await post("/webhooks/sendgrid", body, stale)).status).toBe(403);
    expect((await post("/webhooks/sendgrid", body, signed)).status).toBe(200);
  });

  it("answers 400 to an SNS body that is not a JSON object, and 413 to one over 1 MiB", async () => {
    for (const body of ["null", "[]", "7", '"text"']) {
      const response = await post("/webhooks/ses", body);
      expect(response.status, body).toBe(400);
      expect(await response.json()).toMatchObject({ kind: "invalid_argument" });
    }
    const large = await post(
      "/webhooks/ses",
      JSON.stringify({ Type: "Notification", Message: "x".repeat(MiB) }),
    );
    expect(large.status).toBe(413);
  });
});
