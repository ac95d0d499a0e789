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

/** A value `depth` levels deep (objects, arrays or both), built without recursion. */
function deepValue(depth: number, shape: "object" | "array" | "mixed", leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++)
    value = shape === "array" || (shape === "mixed" && i % 2 === 1) ? [value] : { k: value };
  return value;
}

/** A value `width` entries wide, each entry `leaf`. */
function wideValue(width: number, shape: "object" | "array", leaf: unknown): unknown {
  if (shape === "array") return Array.from({ length: width }, () => leaf);
  return Object.fromEntries(Array.from({ length: width }, (_, i) => [`k${i}`, leaf]));
}

const hostileTree = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1_000, max: 100_000 })),
    width: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 1_000, max: 100_000 })),
    deepShape: fc.constantFrom("object", "array", "mixed"),
    wideShape: fc.constantFrom("object", "array"),
    wideOutside: fc.boolean(),
    leaf: fc.oneof(hostileString, fc.constant(undefined), fc.constant(Number.NaN), fc.integer()),
  })
  .map(({ depth, width, deepShape, wideShape, wideOutside, leaf }) => {
    const deep = (inner: unknown) => deepValue(depth, deepShape as "object" | "array" | "mixed", inner);
    const wide = (inner: unknown) => wideValue(width, wideShape as "object" | "array", inner);
    return wideOutside ? wide(deep(leaf)) : deep(wide(leaf));
  });

describe("parseJob under deep and wide values", () => {
  it("answers every one quickly, with a job or a JobValidationError", () => {
    const job = { type: "t", recipient_email: "a@b.io", subject: "s", text: "x" };
    fc.assert(
      fc.property(
        hostileTree,
        fc.constantFrom(
          "metadata",
          "template_data",
          "attachments",
          "headers",
          "from",
          "subject",
          "unknown_field",
          "",
        ),
        (tree, field) => {
          const started = performance.now();
          try {
            parseJob(field === "" ? tree : { ...job, [field]: tree });
          } catch (error) {
            expect(error).toBeInstanceOf(JobValidationError);
          }
          expect(performance.now() - started).toBeLessThan(1_000);
        },
      ),
      { numRuns: 150 },
    );
  });
});
