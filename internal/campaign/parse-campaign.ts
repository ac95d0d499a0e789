import type { EmailJob } from "../job/email-job.ts";
import { type FieldViolation, JobValidationError } from "../job/job-validation-error.ts";
import { displayName, parseJob } from "../job/parse-job.ts";

/** What a campaign sends to each recipient: the fields every one of its jobs shares. */
const SHARED_JOB_FIELDS = [
  "type",
  "template_id",
  "template_data",
  "subject",
  "html",
  "text",
  "from",
  "reply_to",
  "tags",
  "headers",
  "priority",
  "provider",
  "max_retries",
] as const;

const CAMPAIGN_FIELDS = new Set<string>([
  ...SHARED_JOB_FIELDS,
  "job_type",
  "name",
  "scheduled_at",
  "rate_limit",
  "tracked",
  "recipients",
  "start",
]);

/** Emails per second a campaign may ask for: far above what one deployment sends. */
export const MAX_RATE_LIMIT = 100_000;

/** A campaign as asked for, validated. The audience comes separately (see parseRecipient). */
export interface CampaignInput {
  name: string;
  /** The job every recipient gets, addressed to nobody yet: the campaign's content and options. */
  job: EmailJob;
  tracked: boolean;
  rate_limit: number | undefined;
  scheduled_at: Date | undefined;
  /** Recipients given with the request itself, not yet validated (the caller's field names). */
  recipients: unknown[] | undefined;
  /** Start (or schedule) it as soon as it is created. */
  start: boolean;
}

/**
 * Validates a campaign request. The shared fields follow exactly a job's rules, and are reported
 * under the same names: they are checked by parsing them as one job addressed to
 * recipient@campaign.invalid, which is never stored or sent.
 * A campaign defaults to the `low` lane, leaving the others to transactional mail.
 */
export function parseCampaign(input: unknown): CampaignInput {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw new JobValidationError([{ field: "", description: "must be a JSON object" }]);
  const fields = input as Record<string, unknown>;
  const violations: FieldViolation[] = [];
  for (const key of Object.keys(fields))
    if (!CAMPAIGN_FIELDS.has(key)) violations.push({ field: key, description: "is not a campaign field" });

  const name = fields.name;
  if (typeof name !== "string" || name.trim() === "")
    violations.push({ field: "name", description: "is required" });
  else {
    // A campaign's name is shown as a mailbox's display name would be: one line, no controls.
    const checked = displayName.safeParse(name);
    if (!checked.success)
      violations.push({
        field: "name",
        description: checked.error.issues[0]?.message ?? "is not a valid name",
      });
  }

  const rate = fields.rate_limit;
  if (
    rate !== undefined &&
    rate !== null &&
    (typeof rate !== "number" || !(rate > 0) || rate > MAX_RATE_LIMIT)
  )
    violations.push({
      field: "rate_limit",
      description: `must be a number of emails per second in (0, ${MAX_RATE_LIMIT}]`,
    });

  const tracked = fields.tracked;
  if (tracked !== undefined && typeof tracked !== "boolean")
    violations.push({ field: "tracked", description: "must be true or false" });

  if (fields.start !== undefined && typeof fields.start !== "boolean")
    violations.push({ field: "start", description: "must be true or false" });

  const recipients = fields.recipients;
  if (recipients !== undefined && !Array.isArray(recipients))
    violations.push({ field: "recipients", description: "must be a list of recipients" });

  const hasTemplate = fields.template_id !== undefined;
  const hasInline = fields.html !== undefined || fields.text !== undefined;
  // Neither is the job's own rule, reported with the shared fields below.
  if (hasTemplate && hasInline)
    violations.push({
      field: "template_id",
      description: "give either template_id or inline content (html and/or text), not both",
    });

  let job: EmailJob | undefined;
  try {
    const shared: Record<string, unknown> = { recipient_email: "recipient@campaign.invalid", tracked: true };
    for (const key of [...SHARED_JOB_FIELDS, "job_type", "scheduled_at"] as const)
      if (fields[key] !== undefined) shared[key] = fields[key];
    if (shared.priority === undefined) shared.priority = "low";
    job = parseJob(shared);
  } catch (error) {
    if (!(error instanceof JobValidationError)) throw error;
    violations.push(...error.violations);
  }
  if (violations.length > 0 || job === undefined) throw new JobValidationError(violations);
  return {
    name: (name as string).trim(),
    job,
    tracked: tracked !== false,
    rate_limit: typeof rate === "number" ? rate : undefined,
    scheduled_at: job.scheduled_at,
    recipients: recipients as unknown[] | undefined,
    start: fields.start === true,
  };
}
