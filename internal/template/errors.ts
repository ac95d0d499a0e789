import { KindedError } from "../errors/error-kind.ts";

type TemplateErrorCode =
  | "template_not_found"
  | "template_inactive"
  | "template_syntax"
  | "missing_variable"
  | "missing_content";

/**
 * A template that cannot produce this email: the caller's to fix. Retrying will not help, so the
 * worker fails the job at once; `code` says which case it is.
 */
export class TemplateError extends KindedError<"invalid_template"> {
  override readonly name = "TemplateError";
  override readonly code: TemplateErrorCode;
  readonly template_id: string | undefined;
  readonly variable: string | undefined;

  constructor(
    code: TemplateErrorCode,
    message: string,
    details: { template_id?: string | undefined; variable?: string; cause?: unknown } = {},
  ) {
    super("invalid_template", message, { code, cause: details.cause });
    this.code = code;
    this.template_id = details.template_id;
    this.variable = details.variable;
  }
}
