import type { z } from "zod";
import type { JsonValue } from "../job/email-job.ts";
import { type FieldViolation, JobValidationError } from "../job/job-validation-error.ts";
import { displayName, jsonObject, parseAddress } from "../job/parse-job.ts";

/** One recipient's template_data, serialised: a million of them are stored, so each stays small. */
export const RECIPIENT_DATA_MAX_BYTES = 16 * 1024;

/** One person a campaign's email goes to, with what the template says to them alone. */
export interface CampaignRecipient {
  email: string;
  name?: string;
  template_data: Record<string, JsonValue>;
}

const FIELDS = new Set(["email", "name", "template_data"]);
const templateData = jsonObject(RECIPIENT_DATA_MAX_BYTES);

/** `recipients[3]` and ["template_data", "items", 1] make `recipients[3].template_data.items[1]`. */
function fieldAt(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`;
    return out === "" ? String(key) : `${out}.${String(key)}`;
  }, prefix);
}

/** Checks `value` with `schema`, adding what is wrong to `violations` under `field`. */
function check<T>(
  schema: z.ZodType<T>,
  value: unknown,
  field: string,
  violations: FieldViolation[],
): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues)
    violations.push({ field: fieldAt(field, issue.path), description: issue.message });
  return undefined;
}

/**
 * Validates one recipient of a campaign's audience, by the rules a job's recipient and template_data
 * follow. Every violation names its field under `field` (e.g. `recipients[3].email`); unknown keys
 * are refused, since a misspelt `template_data` would otherwise send emails without their data. An
 * empty name is no name: a CSV's empty cell and JSON's "" both mean the recipient has none.
 */
export function parseRecipient(input: unknown, field = ""): CampaignRecipient {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw new JobValidationError([{ field: field || "recipient", description: "must be a JSON object" }]);
  const fields = input as Record<string, unknown>;
  const violations: FieldViolation[] = [];
  for (const key of Object.keys(fields))
    if (!FIELDS.has(key))
      violations.push({
        field: fieldAt(field, [key]),
        description: "is not a recipient field (email, name, template_data)",
      });

  let email: string | undefined;
  const emailField = fieldAt(field, ["email"]);
  if (fields.email === undefined) violations.push({ field: emailField, description: "is required" });
  else {
    try {
      email = parseAddress(fields.email, emailField);
    } catch (error) {
      if (!(error instanceof JobValidationError)) throw error;
      violations.push(...error.violations);
    }
  }
  const name =
    fields.name === undefined
      ? undefined
      : check(displayName, fields.name, fieldAt(field, ["name"]), violations);
  const data =
    fields.template_data === undefined
      ? {}
      : check(templateData, fields.template_data, fieldAt(field, ["template_data"]), violations);

  if (violations.length > 0 || email === undefined || data === undefined)
    throw new JobValidationError(violations);
  const recipient: CampaignRecipient = { email, template_data: data };
  if (name) recipient.name = name;
  return recipient;
}
