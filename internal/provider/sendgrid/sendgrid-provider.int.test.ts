import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryFailure, outgoingEmails } from "../../../test/outgoing-email.ts";
import type { SendGridFake } from "../../../test/sendgrid-fake.ts";
import { SENDGRID_TEST_KEY as KEY, sendGridProviderOnFake } from "../../../test/sendgrid-provider.ts";
import { SendGridProvider } from "./sendgrid-provider.ts";

const email = outgoingEmails({
  job_type: "booking_confirmation",
  subject: "Your booking",
  html: "<p>Confirmed</p>",
  text: "Confirmed",
  headers: { "X-Booking": "42" },
  attachments: [],
});

describe("SendGridProvider against a server speaking SendGrid's v3 API", () => {
  let fake: SendGridFake;
  let provider: SendGridProvider;

  beforeAll(async () => {
    ({ fake, provider } = await sendGridProviderOnFake({
      email: "noreply@example.com",
      name: "Booking System",
    }));
  });
  afterAll(async () => fake?.close());

  it("sends the message SendGrid expects and returns its x-message-id", async () => {
    const out = email("ada@example.org", {
      reply_to: { email: "help@example.com" },
      attachments: [
        {
          filename: "ticket.pdf",
          content: Buffer.from("%PDF").toString("base64"),
          content_type: "application/pdf",
        },
      ],
    });
    const result = await provider.send(out);
    const request = fake.accepted.at(-1);
    expect(result).toEqual({ provider: "sendgrid", message_id: request?.message_id });
    expect(request?.authorization).toBe(`Bearer ${KEY}`);
    expect(request?.body).toMatchObject({
      from: { email: "noreply@example.com", name: "Booking System" },
      personalizations: [{ to: [{ email: "ada@example.org", name: "Ada Lovelace" }] }],
      reply_to: { email: "help@example.com" },
      subject: "Your booking",
      content: [
        { type: "text/plain", value: "Confirmed" },
        { type: "text/html", value: "<p>Confirmed</p>" },
      ],
      headers: { "X-Booking": "42", "Message-ID": `<${out.job_id}@example.com>` },
      categories: ["booking_confirmation"],
      custom_args: { job_id: out.job_id, job_type: "booking_confirmation" },
      attachments: [
        { filename: "ticket.pdf", type: "application/pdf", content: Buffer.from("%PDF").toString("base64") },
      ],
    });
  });

  it("passes a dynamic template through for SendGrid to render", async () => {
    await provider.send(
      email("bob@example.org", {
        provider_template: { id: "d-abc123", data: { name: "Bob" } },
        subject: "",
        text: "",
        html: undefined,
      }),
    );
    const body = fake.accepted.at(-1)?.body;
    expect(body?.template_id).toBe("d-abc123");
    expect(body?.personalizations?.[0]?.dynamic_template_data).toEqual({ name: "Bob" });
    expect(body?.content).toBeUndefined();
  });

  it("classifies SendGrid's refusals", async () => {
    const rejected = await deliveryFailure(provider.send(email("sg400-x@example.org")));
    expect(rejected).toMatchObject({ kind: "permanent", code: "sendgrid_400" });
    expect(rejected?.message).not.toContain("sg400-x@example.org");
    const throttled = await deliveryFailure(provider.send(email("sg429-x@example.org")));
    expect(throttled).toMatchObject({ kind: "throttled", code: "sendgrid_429" });
    expect(throttled?.retryAfterMs).toBeGreaterThan(20_000);
    expect(await deliveryFailure(provider.send(email("sg500-x@example.org")))).toMatchObject({
      kind: "transient",
      code: "sendgrid_500",
    });
  });

  it("verifies its key with GET /v3/scopes: refused keys and keys without mail.send fail the check", async () => {
    const signal = () => AbortSignal.timeout(5_000);
    await expect(provider.verify(signal())).resolves.toBe("API key valid, with mail.send");
    const wrong = new SendGridProvider({
      apiKey: "SG.wrong",
      baseUrl: fake.baseUrl,
      timeoutMs: 1_000,
      sender: { email: "a@example.com" },
    });
    await expect(wrong.verify(signal())).rejects.toMatchObject({ kind: "config", code: "sendgrid_401" });
    fake.scopes = ["user.profile.read"];
    try {
      await expect(provider.verify(signal())).rejects.toMatchObject({
        kind: "config",
        code: "sendgrid_scope",
      });
    } finally {
      fake.scopes = ["mail.send"];
    }
  });

  it("treats a rejected key as the account's fault", async () => {
    const wrong = new SendGridProvider({
      apiKey: "SG.wrong",
      baseUrl: fake.baseUrl,
      timeoutMs: 1_000,
      sender: { email: "a@example.com" },
    });
    expect(await deliveryFailure(wrong.send(email("a@example.org")))).toMatchObject({
      kind: "config",
      code: "sendgrid_401",
    });
  });

  it("treats an unreachable API as transient, and a timeout after sending as ambiguous", async () => {
    const down = new SendGridProvider({
      apiKey: KEY,
      baseUrl: "http://127.0.0.1:1",
      timeoutMs: 1_000,
      sender: { email: "a@example.com" },
    });
    expect(await deliveryFailure(down.send(email("a@example.org")))).toMatchObject({
      kind: "transient",
      ambiguous: false,
    });
    expect(await deliveryFailure(provider.send(email("sgslow-a@example.org")))).toMatchObject({
      kind: "transient",
      code: "sendgrid_timeout",
      ambiguous: true,
    });
  });
});
