import { hash } from "node:crypto";
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

/**
 * A job id derived from `name`: whoever derives it from the same name gets the same id (a queue
 * message's redeliveries, a campaign recipient's job dispatched again).
 */
export function derivedJobId(name: string): string {
  // One-shot hash: a quarter of createHash's cost.
  const hex = hash("sha256", name, "hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
