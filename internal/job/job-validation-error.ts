export interface FieldViolation {
  /** Path in the wire format, e.g. `recipient_email` or `attachments[1].content`. */
  field: string;
  description: string;
}

/** Input that is not a valid job. gRPC maps it to INVALID_ARGUMENT with these field violations. */
export class JobValidationError extends Error {
  override readonly name = "JobValidationError";
  readonly kind = "invalid_argument";
  readonly code = "invalid_job";
  readonly violations: readonly FieldViolation[];

  constructor(violations: readonly FieldViolation[]) {
    super(`invalid email job: ${violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`);
    this.violations = violations;
  }
}
