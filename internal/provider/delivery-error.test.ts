import { describe, expect, it } from "vitest";
import { TemplateError } from "../template/errors.ts";
import { asDeliveryError, DeliveryError, isDeliveryError } from "./delivery-error.ts";

describe("asDeliveryError", () => {
  it("keeps a DeliveryError as it is", () => {
    const error = new DeliveryError("throttled", "smtp_421", "slow down", { retryAfterMs: 5_000 });
    expect(asDeliveryError(error)).toBe(error);
  });

  it("keeps the kind and code of errors that carry one: a template that cannot render is permanent", () => {
    const error = asDeliveryError(new TemplateError("template_not_found", 'template "x" does not exist'));
    expect(error).toMatchObject({ kind: "permanent", code: "template_not_found" });
    expect(isDeliveryError(error)).toBe(true);
  });

  it("treats anything unclassified as transient", () => {
    expect(asDeliveryError(new Error("socket hang up"))).toMatchObject({
      kind: "transient",
      code: "unclassified",
    });
    expect(asDeliveryError({ kind: "unavailable" })).toMatchObject({ kind: "transient" });
  });
});
