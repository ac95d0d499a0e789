import { JobValidationError } from "./job-validation-error.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A job's id is a UUID: the database column's type, and what every edge accepts. */
export function isJobId(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/** `id` when it is a job id; otherwise a validation error naming `field`. */
export function requireJobId(id: string, field = "id"): string {
  if (!isJobId(id)) throw new JobValidationError([{ field, description: "must be a UUID" }]);
  return id;
}
