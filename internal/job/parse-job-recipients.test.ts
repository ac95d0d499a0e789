import { describe, expect, it } from "vitest";
import { JobValidationError } from "./job-validation-error.ts";
import { JOB_LIMITS, parseJob } from "./parse-job.ts";
import { decodeQueueMessage, encodeJob } from "./queue-message.ts";

const base = { type: "invoice", recipient_email: "ada@example.org", subject: "Invoice", text: "Attached" };

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

const addresses = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.org` }));

describe("parseJob: cc and bcc", () => {
  it("takes cc and bcc mailboxes in both forms the sender takes", () => {
    const job = parseJob({
      ...base,
      cc: ["Bob <bob@example.org>", { email: "carol@example.org" }],
      bcc: ["audit@example.org"],
    });
    expect(job.cc).toEqual([{ email: "bob@example.org", name: "Bob" }, { email: "carol@example.org" }]);
    expect(job.bcc).toEqual([{ email: "audit@example.org" }]);
  });

  it("names each bad address by its place in the list", () => {
    expect(violations({ ...base, cc: [{ email: "ok@example.org" }, { email: "not-an-address" }] })).toEqual({
      "cc[1].email": "must be a valid email address",
    });
    expect(violations({ ...base, bcc: ["Eve <eve@example.org"] })).toEqual({
      "bcc[0]": 'must be "address" or "Name <address>"',
    });
    expect(
      violations({ ...base, cc: [{ email: "x@example.org", name: "X\r\nBcc: y@example.org" }] }),
    ).toEqual({
      "cc[0].name": "must not contain line breaks (header injection)",
    });
  });

  it(`allows ${JOB_LIMITS.recipients} recipients in all (recipient_email, cc and bcc), and no more`, () => {
    const most = { ...base, cc: addresses(30, "c"), bcc: addresses(JOB_LIMITS.recipients - 31, "b") };
    expect(parseJob(most).bcc).toHaveLength(JOB_LIMITS.recipients - 31);
    expect(violations({ ...most, bcc: addresses(JOB_LIMITS.recipients - 30, "b") })).toEqual({
      bcc: `recipient_email, cc and bcc must be at most ${JOB_LIMITS.recipients} recipients in all`,
    });
  });

  it("refuses an address given twice across recipient_email, cc and bcc, whatever its case", () => {
    expect(
      violations({
        ...base,
        cc: [{ email: "ADA@example.org" }, { email: "bob@example.org" }],
        bcc: ["Bob@Example.org"],
      }),
    ).toEqual({ "cc[0].email": "repeats another recipient", "bcc[0].email": "repeats another recipient" });
  });

  it("leaves an empty list out of the job", () => {
    const job = parseJob({ ...base, cc: [], bcc: [], tags: [] });
    expect(job).not.toHaveProperty("cc");
    expect(job).not.toHaveProperty("bcc");
    expect(job).not.toHaveProperty("tags");
  });
});

describe("parseJob: tags", () => {
  it("keeps each tag once, in the order given", () => {
    expect(parseJob({ ...base, tags: ["spring", "eu:west", "spring", "v1.2_b-3"] }).tags).toEqual([
      "spring",
      "eu:west",
      "v1.2_b-3",
    ]);
  });

  it("refuses more than ten tags, empty or long ones, and anything outside letters, digits, _ . : -", () => {
    expect(violations({ ...base, tags: addresses(11, "t").map((a) => a.email.split("@")[0]) })).toEqual({
      tags: "must be at most 10 tags",
    });
    expect(violations({ ...base, tags: ["", "x".repeat(101), "with space", "a,b", "ünï", 7] })).toMatchObject(
      {
        "tags[0]": expect.any(String),
        "tags[1]": "must be at most 100 characters",
        "tags[2]": "must be letters, digits, _ . : -",
        "tags[3]": "must be letters, digits, _ . : -",
        "tags[4]": "must be letters, digits, _ . : -",
        "tags[5]": expect.any(String),
      },
    );
  });
});

describe("parseJob: sandbox", () => {
  it("marks a sandbox job, and only a boolean does", () => {
    expect(parseJob({ ...base, sandbox: true }).sandbox).toBe(true);
    expect(parseJob({ ...base, sandbox: false })).not.toHaveProperty("sandbox");
    expect(violations({ ...base, sandbox: "yes" })).toHaveProperty("sandbox");
  });
});

describe("the new fields on the queue", () => {
  it("survive a fast-path job's trip through a queue message", () => {
    const job = parseJob({
      ...base,
      cc: ["Bob <bob@example.org>"],
      bcc: ["audit@example.org"],
      tags: ["spring"],
      sandbox: true,
    });
    const decoded = decodeQueueMessage(encodeJob(job), () => "unused");
    expect(decoded).toEqual({ kind: "job", job });
  });
});
