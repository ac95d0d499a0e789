import { describe, expect, it } from "vitest";
import { JobValidationError } from "../job/job-validation-error.ts";
import { parseRecipient, RECIPIENT_DATA_MAX_BYTES } from "./recipient.ts";

function violations(input: unknown, field?: string): Record<string, string> {
  try {
    parseRecipient(input, field);
  } catch (error) {
    if (error instanceof JobValidationError)
      return Object.fromEntries(error.violations.map((v) => [v.field, v.description]));
    throw error;
  }
  throw new Error("expected a JobValidationError");
}

describe("parseRecipient", () => {
  it("accepts an address alone and fills template_data", () => {
    expect(parseRecipient({ email: "ada@example.org" })).toStrictEqual({
      email: "ada@example.org",
      template_data: {},
    });
  });

  it("keeps a name and template_data of JSON values", () => {
    const template_data = { city: "Paris", visits: 3, tags: ["a", { b: null }], vip: true };
    expect(parseRecipient({ email: "ada@example.org", name: "Ada Lovelace", template_data })).toStrictEqual({
      email: "ada@example.org",
      name: "Ada Lovelace",
      template_data,
    });
  });

  it("takes an empty name for no name", () => {
    expect(parseRecipient({ email: "ada@example.org", name: "" })).not.toHaveProperty("name");
  });

  it("requires an email and checks it as a job's address", () => {
    expect(violations({ name: "Ada" })).toEqual({ email: "is required" });
    expect(violations({ email: "not an address" })).toEqual({ email: "must be a valid email address" });
    expect(violations({ email: `${"a".repeat(65)}@example.org` })).toEqual({
      email: "local part must be at most 64 characters (RFC 5321)",
    });
    expect(violations({ email: 42 })).toHaveProperty("email");
  });

  it("refuses a name that could inject a header or is too long", () => {
    expect(violations({ email: "a@b.io", name: "Ada\r\nBcc: x@y.io" })).toEqual({
      name: "must not contain line breaks (header injection)",
    });
    expect(violations({ email: "a@b.io", name: "Ada\u0007" })).toEqual({
      name: "must not contain control characters (U+0007)",
    });
    expect(violations({ email: "a@b.io", name: "x".repeat(256) })).toHaveProperty("name");
    expect(violations({ email: "a@b.io", name: 7 })).toHaveProperty("name");
    expect(parseRecipient({ email: "a@b.io", name: "x".repeat(255) }).name).toHaveLength(255);
  });

  it("checks template_data as a job's: JSON values, depth, and its size", () => {
    expect(violations({ email: "a@b.io", template_data: { when: new Date(0) } })).toEqual({
      "template_data.when": expect.stringContaining("must hold only JSON values"),
    });
    expect(violations({ email: "a@b.io", template_data: ["a"] })).toEqual({
      template_data: "must be an object",
    });
    expect(violations({ email: "a@b.io", template_data: null })).toEqual({
      template_data: "must be an object",
    });
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(violations({ email: "a@b.io", template_data: deep })).toEqual({
      template_data: "must be nested at most 64 deep",
    });
  });

  it("allows template_data up to RECIPIENT_DATA_MAX_BYTES serialised, not a byte more", () => {
    const filler = (bytes: number) => ({ x: "a".repeat(bytes - '{"x":""}'.length) });
    expect(RECIPIENT_DATA_MAX_BYTES).toBe(16 * 1024);
    expect(parseRecipient({ email: "a@b.io", template_data: filler(RECIPIENT_DATA_MAX_BYTES) })).toBeTruthy();
    expect(violations({ email: "a@b.io", template_data: filler(RECIPIENT_DATA_MAX_BYTES + 1) })).toEqual({
      template_data: `must be at most ${RECIPIENT_DATA_MAX_BYTES} bytes`,
    });
  });

  it("refuses unknown keys, naming each", () => {
    expect(violations({ email: "a@b.io", templateData: {}, Name: "x" })).toEqual({
      templateData: "is not a recipient field (email, name, template_data)",
      Name: "is not a recipient field (email, name, template_data)",
    });
  });

  it("refuses what is not an object", () => {
    for (const input of [null, "a@b.io", ["a@b.io"], 3])
      expect(violations(input)).toEqual({ recipient: "must be a JSON object" });
    expect(violations(null, "recipients[2]")).toEqual({ "recipients[2]": "must be a JSON object" });
  });

  it("reports every violation at once, under the field it is given", () => {
    const error = (() => {
      try {
        parseRecipient(
          { email: "nope", name: "a\nb", template_data: { n: [1, Number.NaN] }, extra: 1 },
          "recipients[3]",
        );
      } catch (error) {
        return error;
      }
    })();
    expect(error).toBeInstanceOf(JobValidationError);
    expect((error as JobValidationError).kind).toBe("invalid_argument");
    expect(
      Object.fromEntries((error as JobValidationError).violations.map((v) => [v.field, v.description])),
    ).toEqual({
      "recipients[3].extra": "is not a recipient field (email, name, template_data)",
      "recipients[3].email": "must be a valid email address",
      "recipients[3].name": "must not contain line breaks (header injection)",
      "recipients[3].template_data.n[1]": expect.stringContaining("must hold only JSON values"),
    });
  });
});
