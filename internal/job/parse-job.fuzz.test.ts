import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JobValidationError } from "./job-validation-error.ts";
import { parseJob } from "./parse-job.ts";

const hostileString = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.constantFrom(
    "",
    " ",
    "\r\n",
    "a\r\nBcc: x@y.z",
    "<script>",
    "💥".repeat(100),
    "\u0000",
    "'; drop table email_jobs; --",
  ),
  fc.string({ minLength: 2_000, maxLength: 3_000 }),
);

const fieldValue = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.anything(),
);

const jobLike = fc.record(
  {
    id: fieldValue,
    type: fc.oneof(fc.constant("welcome_email"), fieldValue),
    job_type: fieldValue,
    recipient_email: fc.oneof(fc.emailAddress(), fieldValue),
    recipient_name: fieldValue,
    template_id: fieldValue,
    template_data: fieldValue,
    subject: fieldValue,
    html: fieldValue,
    text: fieldValue,
    from: fieldValue,
    reply_to: fieldValue,
    headers: fc.oneof(fc.dictionary(hostileString, hostileString, { maxKeys: 5 }), fieldValue),
    attachments: fieldValue,
    priority: fieldValue,
    scheduled_at: fc.oneof(
      fc.date().map((d) => (Number.isNaN(d.getTime()) ? "x" : d.toISOString())),
      fieldValue,
    ),
    tracked: fieldValue,
    idempotency_key: fieldValue,
    provider: fieldValue,
    max_retries: fieldValue,
    metadata: fieldValue,
  },
  { requiredKeys: [] },
);

/** Whatever arrives, parsing either yields a job or names what is wrong: it never throws anything else. */
describe("parseJob under hostile input", () => {
  it("returns a job or a JobValidationError with field violations, for any value", () => {
    fc.assert(
      fc.property(fc.oneof(jobLike, fc.anything()), (input) => {
        try {
          const job = parseJob(input);
          expect(job.recipient_email).toContain("@");
          expect(`${job.subject ?? ""}${job.recipient_name ?? ""}`).not.toMatch(/[\r\n]/);
        } catch (error) {
          expect(error).toBeInstanceOf(JobValidationError);
          expect((error as JobValidationError).violations.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
