import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { Any } from "../../gen/google/protobuf/any.ts";
import { BadRequest } from "../../gen/google/rpc/error_details.ts";
import { Status } from "../../gen/google/rpc/status.ts";
import type { FieldViolation } from "../../job/job-validation-error.ts";

export type GrpcError = Partial<ServiceError> & { code: status; details: string };

/** A status with a google.rpc.BadRequest in `grpc-status-details-bin`, as Google's APIs send it. */
export function invalidArgument(message: string, violations: readonly FieldViolation[]): GrpcError {
  const badRequest = BadRequest.encode({
    field_violations: violations.map((v) => ({ field: v.field, description: v.description })),
  }).finish();
  const details = Status.encode({
    code: status.INVALID_ARGUMENT,
    message,
    details: [
      Any.fromPartial({
        type_url: "type.googleapis.com/google.rpc.BadRequest",
        value: Buffer.from(badRequest),
      }),
    ],
  }).finish();
  const metadata = new Metadata();
  metadata.add("grpc-status-details-bin", Buffer.from(details));
  return { code: status.INVALID_ARGUMENT, details: message, metadata };
}

/** Reads the field violations back out of an error's trailers (clients, the CLI, tests). */
export function fieldViolationsOf(error: { metadata?: Metadata }): FieldViolation[] {
  const raw = error.metadata?.get("grpc-status-details-bin")[0];
  if (!raw) return [];
  const decoded = Status.decode(raw instanceof Buffer ? raw : Buffer.from(String(raw)));
  return decoded.details
    .filter((d) => d.type_url.endsWith("google.rpc.BadRequest"))
    .flatMap((d) => BadRequest.decode(d.value).field_violations);
}

/** Maps what the service layer throws onto gRPC codes, by `kind`. Anything unexpected is logged. */
export function toGrpcError(error: unknown, logger: Logger): GrpcError {
  const e = error as { kind?: string; message?: string; violations?: FieldViolation[]; field?: string };
  const message = e.message ?? String(error);
  switch (e.kind) {
    case "invalid_argument":
      return invalidArgument(
        message,
        e.violations ?? (e.field ? [{ field: e.field, description: message }] : []),
      );
    case "permanent":
      // A template that cannot render (previews, upserts): the caller's input is at fault.
      return invalidArgument(message, []);
    case "not_found":
      return { code: status.NOT_FOUND, details: message };
    case "conflict":
      return { code: status.ALREADY_EXISTS, details: message };
    case "failed_precondition":
      return { code: status.FAILED_PRECONDITION, details: message };
    case "unavailable":
      return { code: status.UNAVAILABLE, details: message };
    default:
      logger.error({ err: error }, "request failed");
      return { code: status.INTERNAL, details: "internal error" };
  }
}

export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
  readonly kind = "not_found";
}

export class FailedPreconditionError extends Error {
  override readonly name = "FailedPreconditionError";
  readonly kind = "failed_precondition";
}
