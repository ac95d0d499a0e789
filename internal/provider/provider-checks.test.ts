import { describe, expect, it } from "vitest";
import { RecordingProvider } from "../../test/recording-provider.ts";
import { silentLogger } from "../../test/store.ts";
import { DeliveryError } from "./delivery-error.ts";
import type { Provider } from "./provider.ts";
import { ProviderChecks } from "./provider-checks.ts";

const at = new Date("2026-12-02T10:00:00Z");

/** A provider whose check never answers on its own: only the abort signal ends it. */
const silent: Provider = {
  name: "silent",
  send: () => new Promise(() => {}),
  verify: (signal) =>
    new Promise((_, reject) =>
      signal.addEventListener("abort", () =>
        reject(new DeliveryError("transient", "check_timeout", "no answer within the time limit")),
      ),
    ),
  close: async () => {},
};

describe("ProviderChecks", () => {
  it("is pending until run, then ok or failed per provider with the reason, addresses masked", async () => {
    const failing = new RecordingProvider("smtp");
    failing.verifyFailure = new DeliveryError(
      "config",
      "smtp_auth_535",
      "535 bad credentials for mailer@shop.example",
    );
    const checks = new ProviderChecks({
      providers: new Map([
        ["recording", new RecordingProvider()],
        ["smtp", failing],
      ]),
      timeoutMs: 1_000,
      logger: silentLogger,
      now: () => at,
    });
    expect(checks.latest().map((check) => check.state)).toEqual(["pending", "pending"]);
    const results = await checks.run();
    expect(results).toEqual([
      { provider: "recording", state: "ok", detail: "records what it is given", checked_at: at },
      {
        provider: "smtp",
        state: "failed",
        detail: "535 bad credentials for m***@shop.example",
        code: "smtp_auth_535",
        checked_at: at,
      },
    ]);
    expect(checks.latest()).toEqual(results);
  });

  it("fails a check that outlasts its time limit instead of waiting for it", async () => {
    const checks = new ProviderChecks({
      providers: new Map([["silent", silent]]),
      timeoutMs: 50,
      logger: silentLogger,
    });
    const [result] = await checks.run();
    expect(result).toMatchObject({ provider: "silent", state: "failed", code: "check_timeout" });
  });
});
