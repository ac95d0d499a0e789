import { isJobId } from "../job/job-id.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import type { DeadLetter } from "../queue/queue.ts";

/** Which dead letters a replay takes: `ids`, or those matching every filter given, or `all`. */
export interface DeadLetterSelection {
  ids: readonly string[];
  reasonContains?: string | undefined;
  /** The job's type. */
  type?: string | undefined;
  /** failed_at at or after this. */
  failedAfter?: Date | undefined;
  /** failed_at before this. */
  failedBefore?: Date | undefined;
  /** Every letter (the filters, if given, still apply). */
  all?: boolean | undefined;
}

const hasFilter = (s: DeadLetterSelection) =>
  Boolean(s.reasonContains || s.type || s.failedAfter || s.failedBefore);

/**
 * Refuses a replay that names nothing: an empty request once meant "everything", which is too easy
 * to send by mistake. Ids and filters together are refused too rather than one silently ignored.
 */
export function checkSelection(selection: DeadLetterSelection): void {
  const filtered = hasFilter(selection) || selection.all;
  if (selection.ids.length === 0 && !filtered)
    throw new JobValidationError([
      {
        field: "all",
        description:
          "name the dead letters to replay: ids, a filter (reason_contains, type, failed_after, failed_before) or all",
      },
    ]);
  if (selection.ids.length > 0 && filtered)
    throw new JobValidationError([{ field: "ids", description: "give either ids or filters/all, not both" }]);
  if (selection.failedAfter && selection.failedBefore && selection.failedAfter >= selection.failedBefore)
    throw new JobValidationError([
      { field: "failed_before", description: "must be later than failed_after" },
    ]);
}

/** What a letter's body says of the job's type: the type, or the tracked job whose row holds it. */
export function typeInBody(body: string): { type: string } | { trackedId: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const fields = value as { type?: unknown; id?: unknown; tracked?: unknown };
  if (typeof fields.type === "string") return { type: fields.type };
  // A tracked reference ({"id","tracked":true}, see job/queue-message.ts) carries no type.
  if (fields.tracked === true && isJobId(fields.id)) return { trackedId: fields.id };
  return undefined;
}

/**
 * The filters as a test of one letter, cheapest first; undefined when there are none. A tracked
 * reference's type is looked up (once per job) with `typeOfTrackedJob`.
 */
export function letterFilter(
  selection: DeadLetterSelection,
  typeOfTrackedJob: (id: string) => Promise<string | undefined>,
): ((letter: DeadLetter) => Promise<boolean>) | undefined {
  if (!hasFilter(selection)) return undefined;
  const { reasonContains, type, failedAfter, failedBefore } = selection;
  const trackedTypes = new Map<string, Promise<string | undefined>>();
  return async (letter) => {
    if (reasonContains && !letter.reason.includes(reasonContains)) return false;
    if (failedAfter && letter.failed_at < failedAfter) return false;
    if (failedBefore && letter.failed_at >= failedBefore) return false;
    if (!type) return true;
    const found = typeInBody(letter.body);
    if (!found) return false;
    if ("type" in found) return found.type === type;
    let lookup = trackedTypes.get(found.trackedId);
    if (!lookup) {
      lookup = typeOfTrackedJob(found.trackedId);
      trackedTypes.set(found.trackedId, lookup);
    }
    return (await lookup) === type;
  };
}
