import { UsageError } from "./cli-error.ts";

/** A flag's value that must be a JSON object (`--data`, `--metadata`); undefined when not given. */
export function parseData(text: string | undefined, flag: string): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new UsageError(`${flag} must be a JSON object, e.g. '{"user_name":"Ada"}'`);
}
