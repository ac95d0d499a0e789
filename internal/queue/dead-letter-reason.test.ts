import { describe, expect, it } from "vitest";
import { causeOf, deadLetterReason } from "./dead-letter-reason.ts";

describe("dead-letter reasons", () => {
  it("reads back the cause, and the error code when there is one, of every reason written", () => {
    const cases: [string, ReturnType<typeof causeOf>][] = [
      [deadLetterReason.failed("smtp_550", "5.1.1 no such user"), { cause: "failed", code: "smtp_550" }],
      [
        deadLetterReason.attemptsExhausted(4, "smtp_etimedout", "timed out: 12: x"),
        { cause: "attempts_exhausted", code: "smtp_etimedout" },
      ],
      [deadLetterReason.malformed("body is not JSON"), { cause: "malformed", code: undefined }],
      [deadLetterReason.deliveryCap(10), { cause: "delivery_cap", code: undefined }],
      [
        deadLetterReason.unknownTrackedJob("0b5a3c1e-8f2d-4e6a-9c7b-1d2e3f4a5b6c"),
        { cause: "unknown_tracked_job", code: undefined },
      ],
    ];
    for (const [reason, expected] of cases) expect(causeOf(reason)).toEqual(expected);
  });

  it("takes a reason it did not write (an older release's) as a failure without a code", () => {
    expect(causeOf("Something broke")).toEqual({ cause: "failed", code: undefined });
  });
});
