import { status } from "@grpc/grpc-js";

/** Exit codes scripts can rely on (README "emailctl"). */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  invalid: 4,
  unavailable: 5,
  denied: 6,
} as const;

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
  const grpcError = error as { code?: number; details?: string; message?: string };
  if (typeof grpcError.code === "number" && grpcError.details !== undefined) {
    const text = grpcError.details || grpcError.message || "request failed";
    switch (grpcError.code) {
      case status.NOT_FOUND:
        return { message: text, exitCode: EXIT.notFound };
      case status.INVALID_ARGUMENT:
      case status.FAILED_PRECONDITION:
      case status.ALREADY_EXISTS:
        return { message: text, exitCode: EXIT.invalid };
      case status.UNAVAILABLE:
      case status.DEADLINE_EXCEEDED:
        return { message: `service unavailable: ${text}`, exitCode: EXIT.unavailable };
      case status.UNAUTHENTICATED:
      case status.PERMISSION_DENIED:
        return { message: text, exitCode: EXIT.denied };
      default:
        return { message: text, exitCode: EXIT.failed };
    }
  }
  return { message: error instanceof Error ? error.message : String(error), exitCode: EXIT.failed };
}
