import { describe, expect, it } from "vitest";
import { JobValidationError } from "../job/job-validation-error.ts";
import { nextOccurrence } from "./recurrence.ts";

const fieldOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof JobValidationError) return error.violations[0]?.field;
    throw error;
  }
  return undefined;
};

describe("nextOccurrence", () => {
  it("finds the next time a cron expression names, in the schedule's time zone", () => {
    const thursdayNoon = new Date("2026-12-03T12:00:00Z");
    // Monday 09:00 in Oslo is 08:00 UTC in winter.
    expect(nextOccurrence("0 9 * * MON", "Europe/Oslo", thursdayNoon).toISOString()).toBe(
      "2026-12-07T08:00:00.000Z",
    );
    expect(nextOccurrence("*/15 * * * *", "UTC", thursdayNoon).toISOString()).toBe(
      "2026-12-03T12:15:00.000Z",
    );
    expect(nextOccurrence("0 9 1 * *", "UTC", thursdayNoon).toISOString()).toBe("2027-01-01T09:00:00.000Z");
  });

  it("names the field at fault", () => {
    expect(fieldOf(() => nextOccurrence("61 * * * *", "UTC", new Date()))).toBe("cron");
    expect(fieldOf(() => nextOccurrence("every monday", "UTC", new Date()))).toBe("cron");
    expect(fieldOf(() => nextOccurrence("0 9 * * *", "Nowhere/City", new Date()))).toBe("timezone");
  });
});
