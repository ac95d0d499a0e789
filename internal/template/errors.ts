export type TemplateErrorCode =
  | "template_not_found"
  | "template_inactive"
  | "template_syntax"
  | "missing_variable"
  | "missing_content";

/**
 * A template that cannot produce this email. Retrying will not help, so the worker treats it as a
 * permanent failure of the job; `code` says which case it is.
 */
export class TemplateError extends Error {
  override readonly name = "TemplateError";
  readonly kind = "permanent";
  readonly code: TemplateErrorCode;
  readonly template_id: string | undefined;
  readonly variable: string | undefined;

  constructor(
    code: TemplateErrorCode,
    message: string,
    details: { template_id?: string | undefined; variable?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.template_id = details.template_id;
    this.variable = details.variable;
  }
}
