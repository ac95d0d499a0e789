import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { describeFailure, EXIT, InvalidInputError, UsageError } from "./cli-error.ts";

const failedCall = (code: status, details: string, kind?: string) => {
  const metadata = new Metadata();
  if (kind) metadata.set("error-kind", kind);
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
};

describe("describeFailure", () => {
  it("gives usage and input mistakes their own exit codes", () => {
    expect(describeFailure(new UsageError("unknown command"))).toEqual({
      message: "unknown command",
      exitCode: EXIT.usage,
    });
    expect(describeFailure(new InvalidInputError("line 3: not JSON")).exitCode).toBe(EXIT.invalid);
  });

  it("exits by the kind the server named: throttled and too large share a status but not a cure", () => {
    expect(describeFailure(failedCall(status.RESOURCE_EXHAUSTED, "slow down", "throttled"))).toEqual({
      message: "service unavailable: slow down",
      exitCode: EXIT.unavailable,
    });
    expect(
      describeFailure(failedCall(status.RESOURCE_EXHAUSTED, "too big", "payload_too_large")).exitCode,
    ).toBe(EXIT.invalid);
  });

  it("exits by the status when the transport answered", () => {
    expect(describeFailure(failedCall(status.NOT_FOUND, "no tracked job")).exitCode).toBe(EXIT.notFound);
    expect(describeFailure(failedCall(status.UNAUTHENTICATED, "missing key")).exitCode).toBe(EXIT.denied);
    expect(describeFailure(failedCall(status.DEADLINE_EXCEEDED, "deadline")).exitCode).toBe(EXIT.unavailable);
  });

  it("falls back to a plain failure for anything else", () => {
    expect(describeFailure(new Error("ECONNRESET"))).toEqual({
      message: "ECONNRESET",
      exitCode: EXIT.failed,
    });
  });
});
