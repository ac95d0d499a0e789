import { describe, expect, it } from "vitest";
import type { Provider } from "./provider.ts";
import { ProviderRouter } from "./provider-router.ts";

const fake = (name: string): Provider => ({
  name,
  send: async () => ({ provider: name, message_id: "m" }),
  close: async () => {},
});

describe("ProviderRouter", () => {
  const router = new ProviderRouter({
    providers: new Map([
      ["smtp", fake("smtp")],
      ["outbox", fake("outbox")],
    ]),
    routes: [
      { job_type: "payment_*", providers: ["ses", "smtp"] },
      { job_type: "newsletter", providers: ["sendgrid"] },
    ],
    defaultProvider: "outbox",
  });

  it("prefers the job's provider, then a matching route, then the default", () => {
    expect(router.select({ type: "payment_receipt", provider: "outbox" }).name).toBe("outbox");
    expect(router.select({ type: "payment_receipt" }).name).toBe("smtp");
    expect(router.candidates({ type: "payment_receipt" })).toEqual(["ses", "smtp"]);
    expect(router.select({ type: "welcome_email" }).name).toBe("outbox");
  });

  it("refuses a job whose providers are not configured, naming them", () => {
    expect(() => router.select({ type: "newsletter" })).toThrow(/sendgrid.*configured: smtp, outbox/);
    expect(() => router.select({ type: "x", provider: "ses" })).toThrow(
      expect.objectContaining({ kind: "permanent", code: "provider_not_configured" }),
    );
  });
});
