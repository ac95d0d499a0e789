import { KindedError } from "../errors/error-kind.ts";

export interface FieldViolation {
  /** Path in the wire format, e.g. `recipient_email` or `attachments[1].content`. */
  field: string;
  description: string;
}

/** Input that is not a valid job. gRPC answers INVALID_ARGUMENT with these field violations. */
export class JobValidationError extends KindedError<"invalid_argument"> {
  override readonly name = "JobValidationError";
  readonly violations: readonly FieldViolation[];

  constructor(violations: readonly FieldViolation[]) {
    super(
      "invalid_argument",
      `invalid email job: ${violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`,
      { code: "invalid_job" },
    );
    this.violations = violations;
  }
}
