import { describe, expect, it } from "vitest";
import { decideAfterFailure, type FailedAttempt, type FailureDecision } from "./failure-decision.ts";

const NOW = Date.UTC(2030, 0, 1);
/** A schedule that is easy to read: attempt n waits n minutes. */
const minutes = (attempt: number) => attempt * 60_000;
const at = (ms: number) => new Date(NOW + ms);

const failure = (fields: Partial<FailedAttempt>): FailedAttempt => ({
  kind: "transient",
  code: "smtp_451",
  message: "try later",
  attemptsBefore: 0,
  maxRetries: 3,
  ...fields,
});

describe("deciding after a failed attempt", () => {
  it.each<[string, Partial<FailedAttempt>, FailureDecision]>([
    [
      "a transient failure retries on the policy's schedule and uses an attempt",
      {},
      { action: "retry", runAt: at(60_000), attempt: 1, usesAttempt: true, reason: "smtp_451: try later" },
    ],
    [
      "the last allowed retry still retries",
      { attemptsBefore: 2 },
      { action: "retry", runAt: at(180_000), attempt: 3, usesAttempt: true, reason: "smtp_451: try later" },
    ],
    [
      "a transient failure past max_retries gives up, saying after how many attempts",
      { attemptsBefore: 3 },
      { action: "fail", attempt: 4, reason: "gave up after 4 attempts: smtp_451: try later" },
    ],
    [
      "max_retries 0 gives up at the first transient failure",
      { maxRetries: 0 },
      { action: "fail", attempt: 1, reason: "gave up after 1 attempts: smtp_451: try later" },
    ],
    [
      "a permanent failure fails at once",
      { kind: "permanent", code: "smtp_550", message: "no such user" },
      { action: "fail", attempt: 1, reason: "smtp_550: no such user" },
    ],
    [
      "throttling waits as long as the provider asked, without using an attempt",
      {
        kind: "throttled",
        code: "sendgrid_429",
        message: "slow down",
        retryAfterMs: 30_000,
        attemptsBefore: 2,
      },
      {
        action: "retry",
        runAt: at(30_000),
        attempt: 2,
        usesAttempt: false,
        reason: "sendgrid_429: slow down",
      },
    ],
    [
      "throttling waits at least a second",
      { kind: "throttled", code: "smtp_421", message: "busy", retryAfterMs: 10 },
      { action: "retry", runAt: at(1_000), attempt: 0, usesAttempt: false, reason: "smtp_421: busy" },
    ],
    [
      "a misconfigured provider defers on the schedule, even past max_retries",
      { kind: "config", code: "smtp_auth_535", message: "bad password", attemptsBefore: 3 },
      {
        action: "retry",
        runAt: at(240_000),
        attempt: 3,
        usesAttempt: false,
        reason: "smtp_auth_535: bad password",
      },
    ],
  ])("%s", (_name, fields, expected) => {
    expect(decideAfterFailure(failure(fields), minutes, NOW)).toEqual(expected);
  });
});
