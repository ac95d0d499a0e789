import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ErrorKind } from "../../errors/error-kind.ts";
import { ERROR_KIND_METADATA, responseTo } from "../../errors/error-responses.ts";
import { Any } from "../../gen/google/protobuf/any.ts";
import { BadRequest } from "../../gen/google/rpc/error_details.ts";
import { Status } from "../../gen/google/rpc/status.ts";
import type { FieldViolation } from "../../job/job-validation-error.ts";

type GrpcError = Partial<ServiceError> & { code: status; details: string };

/** A status with a google.rpc.BadRequest in `grpc-status-details-bin`, as Google's APIs send it. */
function invalidArgument(message: string, violations: readonly FieldViolation[]): GrpcError {
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

/**
 * What the service layer throws, as a gRPC status: the code from the shared error table, the kind in
 * the `error-kind` trailer, and field violations for the caller's mistakes. Anything of no known
 * kind is a bug: logged, and answered INTERNAL without its message.
 */
export function toGrpcError(error: unknown, logger: Logger): GrpcError {
  const { kind, grpc } = responseTo(error);
  if (kind === "internal") {
    logger.error({ err: error }, "request failed");
    return withKind({ code: grpc, details: "internal error" }, kind);
  }
  const e = error as { message?: string; violations?: FieldViolation[]; field?: string };
  const message = e.message ?? String(error);
  if (grpc === status.INVALID_ARGUMENT) {
    const violations = e.violations ?? (e.field ? [{ field: e.field, description: message }] : []);
    return withKind(invalidArgument(message, violations), kind);
  }
  return withKind({ code: grpc, details: message }, kind);
}

function withKind(error: GrpcError, kind: ErrorKind): GrpcError {
  const metadata = error.metadata ?? new Metadata();
  metadata.set(ERROR_KIND_METADATA, kind);
  return { ...error, metadata };
}
