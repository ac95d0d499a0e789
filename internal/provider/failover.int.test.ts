import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackSmtpProvider } from "../../test/providers.ts";
import { type SendGridFake, startSendGridFake } from "../../test/sendgrid-fake.ts";
import { type SmtpSink, startSmtpSink } from "../../test/smtp-sink.ts";
import type { OutgoingEmail, Provider } from "./provider.ts";
import { type BreakerState, ProviderRouter } from "./provider-router.ts";
import { SendGridProvider } from "./sendgrid/sendgrid-provider.ts";
import type { SmtpProvider } from "./smtp/smtp-provider.ts";

const KEY = "SG.failover-test-key";
let n = 0;
const email = (to = `user${++n}@example.org`): OutgoingEmail => ({
  job_id: `00000000-0000-4000-9000-${String(++n).padStart(12, "0")}`,
  job_type: "booking_confirmation",
  to: { email: to },
  subject: "Booked",
  text: "Booked",
  headers: {},
  attachments: [],
});

/** SendGrid (a server speaking its API) in front, SMTP (a real server) behind it. */
describe("failover between real provider peers", () => {
  let sendgrid: SendGridFake;
  let sink: SmtpSink;
  let smtp: SmtpProvider;
  let router: ProviderRouter;
  const transitions: string[] = [];

  beforeAll(async () => {
    sendgrid = await startSendGridFake(KEY);
    sink = await startSmtpSink();
    smtp = loopbackSmtpProvider(sink.port);
    router = new ProviderRouter({
      providers: new Map<string, Provider>([
        [
          "sendgrid",
          new SendGridProvider({
            apiKey: KEY,
            baseUrl: sendgrid.baseUrl,
            timeoutMs: 1_000,
            sender: { email: "noreply@example.com" },
          }),
        ],
        ["smtp", smtp],
      ]),
      routes: [],
      defaultProvider: "sendgrid",
      fallbackProviders: ["smtp"],
      breaker: { failureThreshold: 3, halfOpenAfterMs: 300 },
      onBreakerStateChange: (provider: string, state: BreakerState) =>
        transitions.push(`${provider}:${state}`),
    });
  });

  afterAll(async () => {
    await smtp?.close();
    await sink?.close();
    await sendgrid?.close();
  });

  it("delivers through SMTP while SendGrid fails, opens SendGrid's circuit, and returns to SendGrid once it recovers", async () => {
    sendgrid.mode = "500";
    const during = await Promise.all(
      Array.from({ length: 6 }, () => router.send({ type: "booking_confirmation" }, email())),
    );
    expect(during.every((r) => r.provider === "smtp")).toBe(true);
    expect(sink.messages.length).toBeGreaterThanOrEqual(6);
    expect(router.health().sendgrid).toBe("open");
    const requestsWhileOpen = sendgrid.requests;
    await router.send({ type: "booking_confirmation" }, email());
    expect(sendgrid.requests).toBe(requestsWhileOpen);

    sendgrid.mode = "normal";
    await sleep(350);
    const after = await router.send({ type: "booking_confirmation" }, email());
    expect(after.provider).toBe("sendgrid");
    expect(router.health().sendgrid).toBe("closed");
    expect(transitions).toEqual(["sendgrid:open", "sendgrid:half-open", "sendgrid:closed"]);
  });

  it("slows down on a 429 storm instead of failing over or failing the job", async () => {
    sendgrid.mode = "429";
    const before = sink.messages.length;
    const error = await router.send({ type: "booking_confirmation" }, email()).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "throttled", provider: "sendgrid", retryAfterMs: 2_000 });
    expect(sink.messages.length).toBe(before);
    expect(router.health().sendgrid).toBe("closed");
    sendgrid.mode = "normal";
  });

  it("does not fail over a send that timed out after leaving: it may have been delivered", async () => {
    const before = sink.messages.length;
    const error = await router
      .send({ type: "booking_confirmation" }, email("sgslow-x@example.org"))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "transient", ambiguous: true, provider: "sendgrid" });
    expect(sink.messages.length).toBe(before);
  });
});
