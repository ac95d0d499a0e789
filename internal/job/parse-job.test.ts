import { describe, expect, it } from "vitest";
import { JobValidationError } from "./job-validation-error.ts";
import { parseJob } from "./parse-job.ts";
import { encodeJob } from "./queue-message.ts";

const base = { type: "welcome_email", recipient_email: "user@example.com", template_id: "welcome_template" };

function violations(input: unknown): Record<string, string> {
  try {
    parseJob(input);
  } catch (error) {
    if (error instanceof JobValidationError)
      return Object.fromEntries(error.violations.map((v) => [v.field, v.description]));
    throw error;
  }
  throw new Error("expected a JobValidationError");
}

describe("parseJob", () => {
  it("accepts the Go service's job and fills the defaults", () => {
    const job = parseJob({ ...base, template_data: { user_name: "John Doe" }, priority: 1 });
    expect(job).toMatchObject({
      type: "welcome_email",
      recipient_email: "user@example.com",
      template_id: "welcome_template",
      template_data: { user_name: "John Doe" },
      priority: 1,
      tracked: false,
      headers: {},
      attachments: [],
    });
    expect(job.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("takes job_type as an alias, priority names, and a stable default id", () => {
    const job = parseJob(
      {
        job_type: "email_verification",
        recipient_email: "a@b.io",
        subject: "Hi",
        text: "x",
        priority: "critical",
      },
      { defaultId: "8f4e5c9a-1111-4222-8333-944455556666" },
    );
    expect(job).toMatchObject({
      type: "email_verification",
      priority: 2,
      id: "8f4e5c9a-1111-4222-8333-944455556666",
    });
    expect(parseJob({ ...base, priority: "low" }).priority).toBe(-1);
  });

  it("names the first value in template_data or metadata that JSON cannot carry", () => {
    expect(violations({ ...base, template_data: { items: ["a", { when: new Date(0) }] } })).toEqual({
      "template_data.items[1].when": expect.stringContaining("must hold only JSON values"),
    });
    expect(violations({ ...base, metadata: { ratio: Number.NaN } })).toEqual({
      "metadata.ratio": expect.stringContaining("must hold only JSON values"),
    });
    expect(violations({ ...base, template_data: ["not", "an", "object"] })).toEqual({
      template_data: "must be an object",
    });
    let deep: unknown = "leaf";
    for (let i = 0; i < 70; i++) deep = { next: deep };
    expect(Object.keys(violations({ ...base, template_data: deep }))[0]).toMatch(/^template_data(\.next)+$/);
    const nested = { list: [1, 2.5, true, null, "x", { deeper: [[]] }], empty: {} };
    expect(parseJob({ ...base, template_data: nested }).template_data).toEqual(nested);
  });

  it("parses mailboxes written as text or objects", () => {
    const job = parseJob({
      ...base,
      from: "Booking System <noreply@example.com>",
      reply_to: { email: "help@example.com" },
    });
    expect(job.from).toEqual({ email: "noreply@example.com", name: "Booking System" });
    expect(job.reply_to).toEqual({ email: "help@example.com" });
    expect(parseJob({ ...base, from: "plain@example.com" }).from).toEqual({ email: "plain@example.com" });
  });

  it("round-trips through the wire form", () => {
    const job = parseJob({ ...base, scheduled_at: "2030-01-02T03:04:05+02:00", metadata: { booking: 42 } });
    expect(job.scheduled_at?.toISOString()).toBe("2030-01-02T01:04:05.000Z");
    expect(parseJob(JSON.parse(encodeJob(job)))).toEqual(job);
  });

  it("names every invalid field", () => {
    expect(
      violations({
        type: "x",
        recipient_email: "not-an-address",
        priority: 7,
        scheduled_at: "tomorrow",
        provider: "mailgun",
        max_retries: -1,
      }),
    ).toEqual({
      recipient_email: "must be a valid email address",
      priority: expect.stringContaining("low, normal, high, critical"),
      scheduled_at: expect.stringContaining("RFC 3339"),
      provider: expect.any(String),
      max_retries: expect.any(String),
    });
    // Cross-field rules are checked once each field is valid on its own.
    expect(violations({ type: "x", recipient_email: "a@b.io" })).toEqual({
      template_id: "is required unless html or text is given",
      subject: "is required unless template_id is given",
    });
  });

  it("requires a type and content", () => {
    expect(violations({ recipient_email: "a@b.io" })).toMatchObject({ type: "is required" });
    expect(violations("just text")).toEqual({ "": "must be a JSON object" });
  });

  it("rejects header injection in subject, names and headers", () => {
    expect(
      violations({
        ...base,
        subject: "Hi\r\nBcc: victim@example.com",
        recipient_name: "Eve\nBcc: x@y.z",
        headers: { "X-Tag": "a\r\nBcc: x@y.z", Bcc: "x@y.z", "Bad Name": "v" },
      }),
    ).toEqual({
      subject: expect.stringContaining("line breaks"),
      recipient_name: expect.stringContaining("line breaks"),
      "headers.X-Tag": expect.stringContaining("line breaks"),
      "headers.Bcc": "is set by the service and cannot be overridden",
      "headers.Bad Name": "is not a valid header name",
    });
  });

  it("checks RFC 5321 address limits", () => {
    const longLocal = `${"a".repeat(65)}@example.com`;
    expect(violations({ ...base, recipient_email: longLocal }).recipient_email).toContain("64");
    const longAddress = `a@${"b".repeat(250)}.com`;
    expect(violations({ ...base, recipient_email: longAddress }).recipient_email).toContain("254");
  });

  it("caps attachments and checks they are base64", () => {
    const big = Buffer.alloc(11 * 1024 * 1024).toString("base64");
    expect(violations({ ...base, attachments: [{ filename: "big.bin", content: big }] })).toHaveProperty(
      "attachments",
    );
    expect(violations({ ...base, attachments: [{ filename: "../etc/passwd", content: "***" }] })).toEqual({
      "attachments[0].filename": "must be a file name, not a path",
      "attachments[0].content": "must be base64",
    });
    const ok = parseJob({
      ...base,
      attachments: [{ filename: "a.txt", content: "aGVs\nbG8=", content_type: "text/plain" }],
    });
    expect(ok.attachments[0]?.content).toBe("aGVsbG8=");
  });

  it("caps the HTML size", () => {
    expect(violations({ ...base, html: "x".repeat(2 * 1024 * 1024 + 1) })).toHaveProperty("html");
  });
});
