import { describe, expect, it } from "vitest";
import { KindedError, NotFoundError, UnavailableError } from "../../errors/error-kind.ts";
import { JobValidationError } from "../../job/job-validation-error.ts";
import { WebhookAuthError } from "../../tracking/provider-event.ts";
import { errorResponse } from "./http-errors.ts";

describe("errorResponse", () => {
  it("answers by the shared error table, with the message and the kind", () => {
    expect(errorResponse(new NotFoundError("no such link"))).toEqual({
      status: 404,
      body: { error: "no such link", kind: "not_found" },
    });
    expect(errorResponse(new KindedError("payload_too_large", "request body over 1 MiB"))).toEqual({
      status: 413,
      body: { error: "request body over 1 MiB", kind: "payload_too_large" },
    });
    expect(errorResponse(new KindedError("conflict", "template t exists")).status).toBe(409);
    expect(errorResponse(new KindedError("invalid_template", "missing variable")).status).toBe(400);
  });

  it("answers an invalid job 400, naming each bad field", () => {
    const violations = [{ field: "recipient_email", description: "is required" }];
    expect(errorResponse(new JobValidationError(violations))).toEqual({
      status: 400,
      body: { error: "invalid email job", kind: "invalid_argument", violations },
    });
  });

  it("answers an unsigned webhook 401 and a refused one 403, with the reason", () => {
    expect(errorResponse(new WebhookAuthError("unauthenticated", "missing signature"))).toEqual({
      status: 401,
      body: { error: "missing signature", kind: "unauthenticated" },
    });
    expect(errorResponse(new WebhookAuthError("permission_denied", "stale")).status).toBe(403);
  });

  it("answers an unavailable dependency 503 without its details, and a draining instance with why", () => {
    expect(errorResponse(new UnavailableError("cannot use Redis at redis://10.0.0.7:6379"))).toEqual({
      status: 503,
      body: { error: "a dependency is unavailable; try again", kind: "unavailable" },
    });
    expect(errorResponse(new UnavailableError("shutting down", { code: "draining" })).body.error).toBe(
      "shutting down",
    );
  });

  it("answers anything of no known kind 500 without its message", () => {
    const internal = { status: 500, body: { error: "internal error", kind: "internal" } };
    expect(errorResponse(new Error("secret detail"))).toEqual(internal);
    expect(errorResponse({ kind: "made_up", message: "x" })).toEqual(internal);
    expect(errorResponse("a string")).toEqual(internal);
    expect(errorResponse(null)).toEqual(internal);
    expect(errorResponse(undefined)).toEqual(internal);
  });
});
