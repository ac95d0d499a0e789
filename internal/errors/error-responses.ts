import type { status as GrpcStatus } from "@grpc/grpc-js";
import { type ErrorKind, isErrorKind, kindOf } from "./error-kind.ts";

/**
 * The gRPC status codes this table uses, as the protocol fixes them. Written out because importing
 * them from grpc-js loads the whole gRPC implementation (and node:http2), which a worker process,
 * serving no gRPC, would otherwise keep resident for this table alone.
 */
const status = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const satisfies Record<string, GrpcStatus>;

/** emailctl's exit codes, which scripts rely on (README "emailctl"). */
export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  invalid: 4,
  unavailable: 5,
  denied: 6,
} as const;

type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

interface ErrorResponse {
  grpc: GrpcStatus;
  http: number;
  /** emailctl's exit code when a request fails this way. */
  exit: ExitCode;
  /** Its message alone tells an operator what to fix: start-up prints it without a stack. */
  selfExplanatory: boolean;
}

const row = (grpc: GrpcStatus, http: number, exit: ExitCode, selfExplanatory = true): ErrorResponse => ({
  grpc,
  http,
  exit,
  selfExplanatory,
});

/** How each kind of failure is answered at every edge: the gRPC API, HTTP and the CLI. */
export const ERROR_RESPONSES: Readonly<Record<ErrorKind, ErrorResponse>> = {
  invalid_argument: row(status.INVALID_ARGUMENT, 400, EXIT_CODES.invalid),
  invalid_template: row(status.INVALID_ARGUMENT, 400, EXIT_CODES.invalid),
  malformed_message: row(status.INVALID_ARGUMENT, 400, EXIT_CODES.invalid),
  not_found: row(status.NOT_FOUND, 404, EXIT_CODES.notFound),
  conflict: row(status.ALREADY_EXISTS, 409, EXIT_CODES.invalid),
  failed_precondition: row(status.FAILED_PRECONDITION, 409, EXIT_CODES.invalid),
  unauthenticated: row(status.UNAUTHENTICATED, 401, EXIT_CODES.denied),
  permission_denied: row(status.PERMISSION_DENIED, 403, EXIT_CODES.denied),
  payload_too_large: row(status.RESOURCE_EXHAUSTED, 413, EXIT_CODES.invalid),
  transient: row(status.UNAVAILABLE, 503, EXIT_CODES.unavailable),
  permanent: row(status.FAILED_PRECONDITION, 422, EXIT_CODES.failed),
  throttled: row(status.RESOURCE_EXHAUSTED, 429, EXIT_CODES.unavailable),
  config: row(status.FAILED_PRECONDITION, 502, EXIT_CODES.failed),
  unavailable: row(status.UNAVAILABLE, 503, EXIT_CODES.unavailable),
  invalid_config: row(status.INTERNAL, 500, EXIT_CODES.failed),
  migration_failed: row(status.INTERNAL, 500, EXIT_CODES.failed),
  internal: row(status.INTERNAL, 500, EXIT_CODES.failed, false),
};

/** The kind of `error` and how it is answered; errors of no known kind answer as `internal`. */
export function responseTo(error: unknown): ErrorResponse & { kind: ErrorKind } {
  const kind = kindOf(error);
  return { kind, ...ERROR_RESPONSES[kind] };
}

/** The trailer naming the kind of a failed call, so clients can tell e.g. throttled from too large. */
export const ERROR_KIND_METADATA = "error-kind";

/** The failure kind a server named in a failed gRPC call's trailers, if any. */
export function kindInTrailers(error: { metadata?: { get(key: string): unknown[] } }): string | undefined {
  const value = error.metadata?.get(ERROR_KIND_METADATA)[0];
  return value === undefined ? undefined : String(value);
}

/**
 * The exit code for a failed gRPC call: by the kind the server named in its trailers, or, for a
 * status the transport raised itself (a deadline, a message over the size limit), by its code.
 */
export function exitCodeOfCall(code: GrpcStatus, kind: string | undefined): ExitCode {
  if (isErrorKind(kind)) return ERROR_RESPONSES[kind].exit;
  if (code === status.DEADLINE_EXCEEDED || code === status.UNAVAILABLE) return EXIT_CODES.unavailable;
  // The first kind answered with this code: the table is ordered caller mistakes first.
  return Object.values(ERROR_RESPONSES).find((r) => r.grpc === code)?.exit ?? EXIT_CODES.failed;
}
