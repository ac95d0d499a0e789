import { afterAll, describe, expect, it } from "vitest";
import { JobValidationError } from "../job/job-validation-error.ts";
import { parseJob } from "../job/parse-job.ts";
import { TemplateError } from "../template/errors.ts";
import { RenderPool } from "../template/render-pool.ts";
import { type TemplateDefinition, TemplateRenderer } from "../template/renderer.ts";
import { intakeCheck } from "./intake-check.ts";

const pool = new RenderPool({ threads: 1, timeoutMs: 5_000 });
afterAll(() => pool.stop());

const welcome: TemplateDefinition = {
  id: "welcome",
  subject: "Welcome {{user_name}}",
  html_template: "<p>Hello {{user_name}}</p>",
  text_template: null,
  variables: [{ name: "user_name", required: true }],
  is_active: true,
  updated_at: new Date("2026-01-01T00:00:00Z"),
};
const rows = new Map<string, TemplateDefinition>([
  ["welcome", welcome],
  ["retired", { ...welcome, id: "retired", is_active: false }],
]);
const renderer = new TemplateRenderer({
  source: { get: async (id) => rows.get(id) },
  pool,
  maxTemplateBytes: 512 * 1024,
});
const check = intakeCheck(renderer, ["smtp", "outbox"]);

const job = (fields: Record<string, unknown>) =>
  parseJob({ type: "welcome", recipient_email: "ada@example.org", ...fields });

async function refusal(fields: Record<string, unknown>) {
  return check(job(fields)).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("intake check", () => {
  it("accepts a job whose template renders with its data, and inline content", async () => {
    await expect(refusal({ template_id: "welcome", template_data: { user_name: "Ada" } })).resolves.toBe(
      undefined,
    );
    await expect(
      refusal({ subject: "Hi {{n}}", text: "Hello {{n}}", template_data: { n: 1 } }),
    ).resolves.toBe(undefined);
  });

  it("refuses a template that does not exist or is not active, naming template_id", async () => {
    for (const id of ["nope", "retired"]) {
      const error = await refusal({ template_id: id, template_data: { user_name: "Ada" } });
      expect(error).toBeInstanceOf(TemplateError);
      expect(error).toMatchObject({ field: "template_id", kind: "invalid_template" });
    }
  });

  it("refuses a job missing a required template variable, naming it under template_data", async () => {
    const error = await refusal({ template_id: "welcome", template_data: {} });
    expect(error).toMatchObject({ code: "missing_variable", field: "template_data.user_name" });
  });

  it("refuses a provider that is not configured, naming the configured ones", async () => {
    const error = await refusal({ provider: "ses", subject: "Hi", text: "Hello" });
    expect(error).toBeInstanceOf(JobValidationError);
    expect((error as JobValidationError).violations).toEqual([
      { field: "provider", description: 'provider "ses" is not configured (configured: smtp, outbox)' },
    ]);
  });
});
