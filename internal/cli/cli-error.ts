import { EXIT_CODES, exitCodeOfCall, kindInTrailers } from "../errors/error-responses.ts";

/** Exit codes scripts can rely on (README "emailctl"). */
export const EXIT = EXIT_CODES;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A job or file that fails validation before anything is sent. */
export class InvalidInputError extends Error {
  override readonly name = "InvalidInputError";
}

/** One readable line and an exit code for whatever went wrong. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UsageError) return { message: error.message, exitCode: EXIT.usage };
  if (error instanceof InvalidInputError) return { message: error.message, exitCode: EXIT.invalid };
  const call = error as {
    code?: unknown;
    details?: string;
    message?: string;
    metadata?: { get(key: string): unknown[] };
  };
  if (typeof call.code === "number" && call.details !== undefined) {
    const text = call.details || call.message || "request failed";
    const exitCode = exitCodeOfCall(call.code, kindInTrailers(call));
    return { message: exitCode === EXIT.unavailable ? `service unavailable: ${text}` : text, exitCode };
  }
  return { message: error instanceof Error ? error.message : String(error), exitCode: EXIT.failed };
}
