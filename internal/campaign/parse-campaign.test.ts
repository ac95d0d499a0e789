import { describe, expect, it } from "vitest";
import { JobValidationError } from "../job/job-validation-error.ts";
import { parseCampaign } from "./parse-campaign.ts";

const base = { name: "Spring sale", type: "newsletter", subject: "Hi {{.name}}", html: "<p>Hi</p>" };

function violations(input: unknown): Record<string, string> {
  try {
    parseCampaign(input);
  } catch (error) {
    if (error instanceof JobValidationError)
      return Object.fromEntries(error.violations.map((v) => [v.field, v.description]));
    throw error;
  }
  return {};
}

describe("parseCampaign", () => {
  it("takes a campaign's own fields and a job's shared ones, in the low lane unless told", () => {
    const parsed = parseCampaign({
      ...base,
      from: "News <news@example.org>",
      tags: ["spring", "spring"],
      rate_limit: 50,
      scheduled_at: "2026-12-24T08:00:00Z",
      recipients: [{ email: "ada@example.org" }],
      start: true,
    });
    expect(parsed).toMatchObject({
      name: "Spring sale",
      rate_limit: 50,
      start: true,
      tracked: true,
      recipients: [{ email: "ada@example.org" }],
      job: {
        type: "newsletter",
        priority: -1,
        from: { email: "news@example.org", name: "News" },
        tags: ["spring"],
      },
    });
    expect(parsed.scheduled_at?.toISOString()).toBe("2026-12-24T08:00:00.000Z");
    expect(parseCampaign({ ...base, priority: "high" }).job.priority).toBe(1);
  });

  it("reports every problem at once, under the request's field names", () => {
    expect(
      violations({
        name: "",
        type: "bad type!",
        template_id: "welcome",
        html: "<p>both</p>",
        from: "not an address",
        rate_limit: 0,
        recipients: "ada@example.org",
        recipient_email: "ada@example.org",
        start: "yes",
      }),
    ).toEqual({
      name: "is required",
      type: "must be letters, digits, _ . : -",
      template_id: "give either template_id or inline content (html and/or text), not both",
      from: expect.any(String),
      rate_limit: expect.stringContaining("emails per second"),
      recipients: "must be a list of recipients",
      recipient_email: "is not a campaign field",
      start: "must be true or false",
    });
  });

  it("needs content: a template or inline html or text", () => {
    expect(violations({ name: "x", type: "newsletter", subject: "Hi" })).toEqual({
      template_id: "is required unless html or text is given",
    });
  });

  it("refuses a name with a line break and a tracked flag that is not a boolean, saying why", () => {
    expect(violations({ ...base, name: "two\nlines" }).name).toMatch(/line breaks/);
    expect(violations({ ...base, tracked: "no" })).toEqual({ tracked: "must be true or false" });
    expect(violations([])).toEqual({ "": "must be a JSON object" });
  });

  it("takes an untracked campaign (tracked defaults to true)", () => {
    expect(parseCampaign({ ...base, tracked: false }).tracked).toBe(false);
    expect(parseCampaign(base).tracked).toBe(true);
  });
});
