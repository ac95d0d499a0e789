import { afterEach, describe, expect, it } from "vitest";
import { deliveryFailure, outgoingEmails } from "../../../test/outgoing-email.ts";
import { type SmtpSink, startSmtpSink } from "../../../test/smtp-sink.ts";
import { selfSignedCertificate } from "../../../test/tls.ts";
import { DeliveryError } from "../delivery-error.ts";
import { type SmtpAccountOptions, SmtpProvider } from "./smtp-provider.ts";

const sinks: SmtpSink[] = [];
const providers: SmtpProvider[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) await p.close();
  for (const s of sinks.splice(0)) await s.close();
});

async function setup(
  options: {
    tls?: boolean;
    users?: Record<string, string>;
    accounts?: SmtpAccountOptions[];
    port?: number;
    ca?: boolean;
    servername?: string;
  } = {},
) {
  const tls = options.tls ? await selfSignedCertificate() : undefined;
  const sink = await startSmtpSink({ ...(tls && { tls }), ...(options.users && { users: options.users }) });
  sinks.push(sink);
  const provider = new SmtpProvider({
    host: "127.0.0.1",
    port: options.port ?? sink.port,
    useTls: options.tls ?? false,
    accounts: options.accounts ?? [],
    sender: { email: "noreply@example.com", name: "Booking System" },
    poolSize: 2,
    timeoutMs: 5_000,
    ...(tls && options.ca !== false && { ca: tls.cert }),
    ...(options.servername && { servername: options.servername }),
  });
  providers.push(provider);
  return { sink, provider };
}

const email = outgoingEmails({
  job_type: "welcome_email",
  subject: "Welcome, Ada",
  html: "<p>Hello Ada</p>",
  text: "Hello Ada",
  headers: { "X-Campaign": "spring" },
  attachments: [
    { filename: "hello.txt", content: Buffer.from("hello").toString("base64"), content_type: "text/plain" },
  ],
});

describe("SmtpProvider against a real SMTP server", () => {
  it("delivers a complete message and reports its Message-ID", async () => {
    const { sink, provider } = await setup();
    const out = email("ada@example.org", { reply_to: { email: "help@example.com" } });
    const result = await provider.send(out);
    expect(result).toEqual({ provider: "smtp", message_id: `<${out.job_id}@example.com>` });
    const [message] = sink.messages;
    expect(message?.from).toBe("noreply@example.com");
    expect(message?.to).toEqual(["ada@example.org"]);
    expect(message?.header("Subject")).toBe("Welcome, Ada");
    expect(message?.header("From")).toBe('"Booking System" <noreply@example.com>');
    expect(message?.header("Reply-To")).toBe("help@example.com");
    expect(message?.header("X-Campaign")).toBe("spring");
    expect(message?.header("X-Email-Job-Id")).toBe(out.job_id);
    expect(message?.header("Message-ID")).toBe(`<${out.job_id}@example.com>`);
    expect(message?.raw).toContain("multipart/alternative");
    expect(message?.raw).toContain("filename=hello.txt");
  });

  it("speaks STARTTLS with AUTH and rotates accounts round-robin", async () => {
    const { sink, provider } = await setup({
      tls: true,
      users: { "a@relay.test": "pw-a", "b@relay.test": "pw-b" },
      accounts: [
        { username: "a@relay.test", password: "pw-a", daily_limit: 0 },
        { username: "b@relay.test", password: "pw-b", daily_limit: 0 },
      ],
    });
    for (let i = 0; i < 4; i++) await provider.send(email(`user${i}@example.org`));
    expect(sink.messages.map((m) => m.user)).toEqual([
      "a@relay.test",
      "b@relay.test",
      "a@relay.test",
      "b@relay.test",
    ]);
  });

  it("skips accounts at their daily cap and throttles when all are", async () => {
    const { sink, provider } = await setup({
      users: { a: "1", b: "2" },
      accounts: [
        { username: "a", password: "1", daily_limit: 1 },
        { username: "b", password: "2", daily_limit: 2 },
      ],
    });
    for (let i = 0; i < 3; i++) await provider.send(email(`cap${i}@example.org`));
    expect(sink.messages.map((m) => m.user).sort()).toEqual(["a", "b", "b"]);
    const error = await deliveryFailure(provider.send(email("cap4@example.org")));
    expect(error).toMatchObject({ kind: "throttled", code: "smtp_daily_limit" });
    expect(error?.retryAfterMs).toBeGreaterThan(0);
    expect(error?.retryAfterMs).toBeLessThanOrEqual(86_400_000);
  });

  it("classifies refusals: 5xx permanent, 451/452/421 throttled", async () => {
    const { provider } = await setup();
    const rejected = await deliveryFailure(provider.send(email("reject550-x@example.org")));
    expect(rejected).toBeInstanceOf(DeliveryError);
    expect(rejected).toMatchObject({ kind: "permanent", code: "smtp_550" });
    // The reply quotes the address; the error must not.
    expect(rejected?.message).not.toContain("reject550-x@");
    expect(await deliveryFailure(provider.send(email("tempfail1-y@example.org")))).toMatchObject({
      kind: "throttled",
      code: "smtp_451",
    });
    await expect(provider.send(email("tempfail1-y@example.org"))).resolves.toBeDefined();
    expect(await deliveryFailure(provider.send(email("busy421-z@example.org")))).toMatchObject({
      kind: "throttled",
    });
  });

  it("treats a wrong password and an untrusted certificate as the account's fault", async () => {
    const { provider } = await setup({
      users: { good: "right" },
      accounts: [{ username: "good", password: "wrong", daily_limit: 0 }],
    });
    expect(await deliveryFailure(provider.send(email("a@example.org")))).toMatchObject({
      kind: "config",
      code: "smtp_auth_535",
    });

    const untrusted = await setup({ tls: true, ca: false });
    expect(await deliveryFailure(untrusted.provider.send(email("b@example.org")))).toMatchObject({
      kind: "config",
    });
  });

  it("trusts a private CA besides the bundled ones, and checks the certificate against tls_servername", async () => {
    const byAddress = await setup({ tls: true });
    await expect(byAddress.provider.send(email("a@example.org"))).resolves.toMatchObject({
      provider: "smtp",
    });
    const named = await setup({ tls: true, servername: "localhost" });
    await expect(named.provider.send(email("b@example.org"))).resolves.toMatchObject({ provider: "smtp" });
    const wrongName = await setup({ tls: true, servername: "relay.internal.example" });
    expect(await deliveryFailure(wrongName.provider.send(email("c@example.org")))).toMatchObject({
      kind: "config",
      message: expect.stringMatching(/relay\.internal\.example/),
    });
  });

  it("treats a refused connection as transient", async () => {
    const { provider } = await setup({ port: 1 });
    expect(await deliveryFailure(provider.send(email("a@example.org")))).toMatchObject({ kind: "transient" });
  });

  it("sends nothing for a job whose time ran out before its send began, and says so plainly (not ambiguous)", async () => {
    const { provider } = await setup();
    const controller = new AbortController();
    controller.abort();
    expect(await deliveryFailure(provider.send(email("a@example.org"), controller.signal))).toMatchObject({
      kind: "transient",
      code: "send_timeout",
      ambiguous: false,
    });
  });
});
