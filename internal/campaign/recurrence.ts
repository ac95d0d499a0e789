import { Cron } from "croner";
import { JobValidationError } from "../job/job-validation-error.ts";

/**
 * The first time after `after` that a cron expression (five fields, minute first; or six with
 * seconds) names, in `timezone` (an IANA name). A bad expression or zone is the caller's mistake,
 * reported under `cron` or `timezone`.
 */
export function nextOccurrence(cron: string, timezone: string, after: Date): Date {
  let schedule: Cron;
  try {
    schedule = new Cron(cron, { paused: true, timezone });
  } catch (error) {
    throw new JobValidationError([{ field: "cron", description: (error as Error).message }]);
  }
  let next: Date | null;
  try {
    next = schedule.nextRun(after);
  } catch {
    throw new JobValidationError([
      { field: "timezone", description: `"${timezone}" is not an IANA time zone` },
    ]);
  }
  if (next === null)
    throw new JobValidationError([{ field: "cron", description: "names no time in the future" }]);
  return next;
}
