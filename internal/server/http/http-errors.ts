import { KindedError } from "../../errors/error-kind.ts";
import { responseTo } from "../../errors/error-responses.ts";
import { JobValidationError } from "../../job/job-validation-error.ts";

export interface ErrorResponse {
  status: number;
  body: Record<string, unknown>;
}

/** The reply to a request that no route took. */
export function noRoute(method: string | undefined, path: string): KindedError {
  return new KindedError("not_found", `no route for ${method} ${path}`, { code: "no_route" });
}

/**
 * The reply to a request that threw: the status from the shared error table, the message and kind
 * in the body, and for an invalid job each bad field. An unreachable dependency is named only in the
 * log (its message may carry an address); what is not of a known kind is a 500 that the server logs,
 * and only those point at a fault of the service's own.
 */
export function errorResponse(error: unknown): ErrorResponse {
  const { kind, http } = responseTo(error);
  if (kind === "internal") return { status: http, body: { error: "internal error", kind } };
  if (error instanceof JobValidationError)
    return { status: http, body: { error: "invalid email job", kind, violations: error.violations } };
  const { message, code } = error as KindedError;
  if (kind === "unavailable" && code !== "draining")
    return { status: http, body: { error: "a dependency is unavailable; try again", kind } };
  return { status: http, body: { error: message, kind } };
}
