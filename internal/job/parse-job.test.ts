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
    expect(violations({ ...base, template_data: deep })).toEqual({
      template_data: "must be nested at most 64 deep",
    });
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

  it("refuses content that would go out blank, naming the field", () => {
    const noTemplate = { type: "x", recipient_email: "a@b.io", subject: "Hi" };
    expect(violations({ ...noTemplate, text: "" })).toEqual({
      text: "must not be empty when there is no html or template_id",
    });
    expect(violations({ ...noTemplate, text: "  \r\n " })).toMatchObject({ text: expect.any(String) });
    expect(violations({ ...noTemplate, html: " " })).toEqual({
      html: "must not be empty when there is no text or template_id",
    });
    expect(() => parseJob({ ...noTemplate, text: "", html: "<p>Hi</p>" })).not.toThrow();
  });

  it("refuses a header value that cannot be folded within 998 octets a line, naming the header", () => {
    const unbroken = "x".repeat(990);
    expect(violations({ ...base, headers: { "X-Token": unbroken } })).toEqual({
      "headers.X-Token": expect.any(String),
    });
    expect(() => parseJob({ ...base, headers: { "X-Words": `${"word ".repeat(190)}end` } })).not.toThrow();
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

  it("caps attachments at exactly 10 MiB decoded, padding not counted, and checks they are base64", () => {
    const big = Buffer.alloc(11 * 1024 * 1024).toString("base64");
    expect(violations({ ...base, attachments: [{ filename: "big.bin", content: big }] })).toHaveProperty(
      "attachments",
    );
    // 10 MiB is not a multiple of 3: its base64 ends in padding, which must not count as bytes.
    const limit = Buffer.alloc(10 * 1024 * 1024).toString("base64");
    expect(limit.endsWith("=")).toBe(true);
    expect(
      parseJob({ ...base, attachments: [{ filename: "limit.bin", content: limit }] }).attachments,
    ).toHaveLength(1);
    const over = Buffer.alloc(10 * 1024 * 1024 + 1).toString("base64");
    expect(violations({ ...base, attachments: [{ filename: "over.bin", content: over }] })).toHaveProperty(
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

  it("refuses nesting 100k deep in metadata or template_data at once, naming the field", () => {
    const started = Date.now();
    for (const field of ["metadata", "template_data"]) {
      expect(violations({ ...base, [field]: nest(100_000, (inner) => ({ a: inner })) })).toEqual({
        [field]: "must be nested at most 64 deep",
      });
      expect(violations({ ...base, [field]: { list: nest(100_000, (inner) => [inner]) } })).toEqual({
        [field]: "must be nested at most 64 deep",
      });
    }
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("caps the number of headers before checking each", () => {
    const headers = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`X-${i}`, "\u0000"]));
    const started = Date.now();
    expect(violations({ ...base, headers })).toEqual({ headers: "must be at most 100 headers" });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("still caps metadata's size", () => {
    expect(violations({ ...base, metadata: { blob: "x".repeat(17 * 1024) } })).toEqual({
      metadata: "must be at most 16384 bytes",
    });
  });

  it("refuses control characters in subject, names, headers and identifiers, naming each", () => {
    expect(
      violations({
        ...base,
        subject: "Hi\u0000there",
        recipient_name: "Eve\u000b",
        from: "Mallory\u001b[31m <m@example.com>",
        reply_to: { email: "r@example.com", name: "R\u007f" },
        headers: { "X-Tag": "a\u000cb" },
        template_id: "welcome\u0007",
        idempotency_key: "key\r\n",
        attachments: [{ filename: "a\u0001.txt", content: "aGVsbG8=" }],
      }),
    ).toEqual({
      subject: "must not contain control characters (U+0000)",
      recipient_name: "must not contain control characters (U+000B)",
      from: "must not contain control characters (U+001B)",
      "reply_to.name": "must not contain control characters (U+007F)",
      "headers.X-Tag": "must not contain control characters (U+000C)",
      template_id: "must not contain control characters (U+0007)",
      idempotency_key: "must not contain control characters (U+000D)",
      "attachments[0].filename": "must not contain control characters (U+0001)",
    });
    const tabs = parseJob({ ...base, subject: "a\tb", recipient_name: "A\tB", headers: { "X-T": "1\t2" } });
    expect(tabs).toMatchObject({ subject: "a\tb", recipient_name: "A\tB", headers: { "X-T": "1\t2" } });
  });

  it("lets bodies keep CR, LF and TAB but not NUL", () => {
    const job = parseJob({ ...base, html: "<p>a</p>\r\n\t<p>b</p>", text: "a\nb\r\n\tc\f" });
    expect(job.text).toBe("a\nb\r\n\tc\f");
    expect(violations({ ...base, html: "<p>\u0000</p>", text: "a\u0000" })).toEqual({
      html: "must not contain control characters (U+0000)",
      text: "must not contain control characters (U+0000)",
    });
  });

  it("refuses lone surrogates in every text, bodies and JSON values included", () => {
    expect(
      violations({
        ...base,
        subject: "Hi \ud83d",
        recipient_name: "\udc00",
        html: `${"x".repeat(1024 * 1024)}\ud800`,
        text: "\udfff end",
        headers: { "X-Tag": "\ud800" },
        template_data: { user: { name: "A\ud800" } },
        metadata: { "\udc01": 1 },
        idempotency_key: "\ud800",
      }),
    ).toEqual({
      subject: "must be valid Unicode",
      recipient_name: "must be valid Unicode",
      html: "must be valid Unicode",
      text: "must be valid Unicode",
      "headers.X-Tag": "must be valid Unicode",
      "template_data.user.name": "must be valid Unicode",
      "metadata.\udc01": "must be valid Unicode",
      idempotency_key: "must be valid Unicode",
    });
    expect(parseJob({ ...base, subject: "Hi 💥", template_data: { e: "💥" } }).subject).toBe("Hi 💥");
  });

  it("takes an untracked campaign's recipient (both fields, never on a tracked job) and keeps it through the queue", () => {
    const campaign = { campaign_id: "0b4f6a8e-2c1d-4e5f-9a7b-3c2d1e0f4a5b", campaign_recipient: 42 };
    const job = parseJob({ ...base, ...campaign });
    expect(job).toMatchObject(campaign);
    expect(parseJob(JSON.parse(encodeJob(job)))).toMatchObject(campaign);
    expect(violations({ ...base, campaign_id: campaign.campaign_id })).toEqual({
      campaign_recipient: "campaign_id and campaign_recipient come together",
    });
    expect(violations({ ...base, ...campaign, tracked: true })).toEqual({
      campaign_id: "is for untracked jobs: a tracked campaign job's record names its campaign",
    });
    expect(violations({ ...base, campaign_id: "c1", campaign_recipient: 0 })).toEqual({
      campaign_id: "must be a UUID",
      campaign_recipient: "Too small: expected number to be >=1",
    });
  });

  it("refuses an idempotency key in the service's own key space", () => {
    for (const key of ["job-id:1f0c", "campaign:0b4f:1"])
      expect(violations({ ...base, idempotency_key: key })).toEqual({
        idempotency_key: "must not start with job-id: or campaign: (the service derives keys so)",
      });
    expect(parseJob({ ...base, idempotency_key: "campaigns-2026-12" }).idempotency_key).toBe(
      "campaigns-2026-12",
    );
  });
});

/** `depth` levels of `wrap` around an empty object, built without recursion. */
function nest(depth: number, wrap: (inner: unknown) => unknown): unknown {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = wrap(value);
  return value;
}
