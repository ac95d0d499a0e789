import { describe, expect, it } from "vitest";
import { requestFingerprint } from "./request-fingerprint.ts";

describe("requestFingerprint", () => {
  const request = {
    id: "11111111-2222-4333-8444-555555555555",
    type: "receipt",
    recipient_email: "ada@example.org",
    template_data: { total: 12.5, items: [{ sku: "a" }, { sku: "b" }] },
  };

  it("is the same for a retry whatever its id and field order", () => {
    const retry = {
      template_data: { items: [{ sku: "a" }, { sku: "b" }], total: 12.5 },
      recipient_email: "ada@example.org",
      type: "receipt",
      id: "99999999-2222-4333-8444-555555555555",
    };
    expect(requestFingerprint(retry)).toBe(requestFingerprint(request));
    expect(requestFingerprint(request)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("differs when anything the request asks for differs, array order included", () => {
    const other = [
      { ...request, recipient_email: "bob@example.org" },
      { ...request, template_data: { total: 12.5, items: [{ sku: "b" }, { sku: "a" }] } },
      { ...request, template_data: { ...request.template_data, total: "12.5" } },
    ];
    for (const changed of other) expect(requestFingerprint(changed)).not.toBe(requestFingerprint(request));
  });
});
