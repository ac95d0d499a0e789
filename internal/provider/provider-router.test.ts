import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { deliveryFailure } from "../../test/outgoing-email.ts";
import { DeliveryError } from "./delivery-error.ts";
import type { OutgoingEmail, Provider } from "./provider.ts";
import { ProviderGate } from "./provider-gate.ts";
import { type BreakerState, halfOpenPause, ProviderRouter } from "./provider-router.ts";

/** A provider whose next answers are scripted: "ok", or an error to throw. */
function scripted(name: string) {
  const script: (DeliveryError | "ok")[] = [];
  let calls = 0;
  const provider: Provider = {
    name,
    async send() {
      calls++;
      const next = script.shift() ?? "ok";
      if (next !== "ok") throw next;
      return { provider: name, message_id: `${name}-${calls}` };
    },
    verify: async () => "scripted",
    close: async () => {},
  };
  return {
    provider,
    will: (...answers: (DeliveryError | "ok")[]) => script.push(...answers),
    calls: () => calls,
  };
}

const email: OutgoingEmail = {
  job_id: "j",
  job_type: "t",
  to: { email: "a@example.org" },
  subject: "s",
  text: "t",
  headers: {},
  attachments: [],
};
const transient = () => new DeliveryError("transient", "smtp_econnection", "refused");
const job = { type: "welcome_email" };

function router(
  options: { threshold?: number; halfOpenAfterMs?: number; gates?: Map<string, ProviderGate> } = {},
) {
  const primary = scripted("sendgrid");
  const backup = scripted("smtp");
  const states: string[] = [];
  const r = new ProviderRouter({
    providers: new Map([
      ["sendgrid", primary.provider],
      ["smtp", backup.provider],
    ]),
    routes: [{ job_type: "payment_*", providers: ["ses", "smtp"] }],
    defaultProvider: "sendgrid",
    fallbackProviders: ["smtp"],
    breaker: { failureThreshold: options.threshold ?? 3, halfOpenAfterMs: options.halfOpenAfterMs ?? 100 },
    ...(options.gates && { gates: options.gates }),
    onBreakerStateChange: (name: string, state: BreakerState) => states.push(`${name}:${state}`),
  });
  return { r, primary, backup, states };
}

describe("ProviderRouter", () => {
  it("orders candidates: the job's provider, a matching route, else default then fallbacks", () => {
    const { r } = router();
    expect(r.candidates({ type: "x", provider: "smtp" })).toEqual(["smtp"]);
    expect(r.candidates({ type: "payment_receipt" })).toEqual(["ses", "smtp"]);
    expect(r.candidates(job)).toEqual(["sendgrid", "smtp"]);
  });

  it("fails over on transient and configuration errors", async () => {
    const { r, primary, backup } = router();
    primary.will(transient());
    expect(await r.send(job, email)).toMatchObject({ provider: "smtp" });
    primary.will(new DeliveryError("config", "sendgrid_401", "bad key"));
    expect(await r.send(job, email)).toMatchObject({ provider: "smtp" });
    expect(backup.calls()).toBe(2);
  });

  it("does not fail over a bad message, throttling, or an ambiguous outcome", async () => {
    const { r, primary, backup } = router();
    primary.will(new DeliveryError("permanent", "sendgrid_400", "bad address"));
    await expect(r.send(job, email)).rejects.toMatchObject({ kind: "permanent", provider: "sendgrid" });
    primary.will(new DeliveryError("throttled", "sendgrid_429", "slow down"));
    await expect(r.send(job, email)).rejects.toMatchObject({ kind: "throttled" });
    primary.will(new DeliveryError("transient", "sendgrid_timeout", "timed out", { ambiguous: true }));
    await expect(r.send(job, email)).rejects.toMatchObject({ ambiguous: true });
    expect(backup.calls()).toBe(0);
  });

  it("opens a provider's circuit after consecutive failures, probes it half-open, and closes it on success", async () => {
    const { r, primary, backup, states } = router({ threshold: 2, halfOpenAfterMs: 100 });
    primary.will(transient(), transient());
    await r.send(job, email);
    await r.send(job, email);
    expect(r.health()).toEqual({ sendgrid: "open", smtp: "closed" });
    expect(r.errorRates()).toEqual({ sendgrid: 1, smtp: 0 });
    await r.send(job, email);
    expect(primary.calls()).toBe(2);
    expect(backup.calls()).toBe(3);
    await sleep(150); // the pause is 100 ms give or take 25
    expect(await r.send(job, email)).toMatchObject({ provider: "sendgrid" });
    expect(r.health().sendgrid).toBe("closed");
    expect(states).toEqual(["sendgrid:open", "sendgrid:half-open", "sendgrid:closed"]);
  });

  it("pauses 5 s before the first trial, doubling after each failed one up to the configured pause, each give or take a quarter", () => {
    const pause = halfOpenPause(30_000, () => 0.5);
    const durations = [1, 2, 3, 4, 5].map((attempt) => pause.next({ attempt }).duration);
    expect(durations).toEqual([5_000, 10_000, 20_000, 30_000, 30_000]);
    const draws = [0, 0.999_999];
    const jittered = halfOpenPause(30_000, () => draws.shift() ?? 0.5);
    expect([jittered.next({ attempt: 4 }).duration, jittered.next({ attempt: 4 }).duration]).toEqual([
      22_500, 37_500,
    ]);
    const spread = new Set(
      Array.from({ length: 50 }, () => halfOpenPause(30_000).next({ attempt: 1 }).duration),
    );
    expect(spread.size).toBeGreaterThan(1);
    for (const duration of spread) {
      expect(duration).toBeGreaterThanOrEqual(3_750);
      expect(duration).toBeLessThanOrEqual(6_250);
    }
  });

  it("hands the job back, attempts kept, when every provider's circuit is open, until just after the first trial is due", async () => {
    const { r, primary, backup } = router({ threshold: 1, halfOpenAfterMs: 60_000 });
    primary.will(transient());
    backup.will(transient());
    await expect(r.send(job, email)).rejects.toMatchObject({ kind: "transient" });
    const parked = await deliveryFailure(r.send(job, email));
    expect(parked).toMatchObject({ kind: "throttled", code: "circuit_open" });
    // Back just after the first trial is due (5 s give or take a quarter, plus a second), not the
    // configured 60 s later.
    expect(parked?.retryAfterMs).toBeGreaterThanOrEqual(4_700);
    expect(parked?.retryAfterMs).toBeLessThanOrEqual(7_250);
    await sleep(50);
    const later = await deliveryFailure(r.send(job, email));
    expect(later?.retryAfterMs).toBeLessThan(parked?.retryAfterMs ?? 0);
  });

  it("refuses a job whose providers are not configured, naming them", async () => {
    const { r } = router();
    await expect(r.send({ type: "x", provider: "ses" }, email)).rejects.toMatchObject({
      kind: "permanent",
      code: "provider_not_configured",
    });
  });

  it("holds sends to a provider's rate, throttling when the wait would be too long", async () => {
    const gate = new ProviderGate({
      provider: "sendgrid",
      ratePerSecond: 5,
      maxConcurrency: 0,
      maxWaitMs: 50,
      leaseMs: 60_000,
      keyPrefix: `t${Math.random()}`,
    });
    const { r } = router({ gates: new Map([["sendgrid", gate]]) });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => r.send(job, email)));
    const sent = results.filter((x) => x.status === "fulfilled").length;
    expect(sent).toBe(5);
    expect(results.find((x) => x.status === "rejected")).toMatchObject({
      reason: { kind: "throttled", code: "rate_limited" },
    });
  });
});
