import { KindedError } from "../errors/error-kind.ts";

export type TemplateErrorCode =
  | "template_not_found"
  | "template_inactive"
  | "template_syntax"
  | "missing_variable"
  | "missing_content"
  /** Source over email.template_max_bytes: refused before it is compiled. */
  | "template_too_large"
  /** Compiling and rendering went over its time, output-size or memory budget. */
  | "render_budget";

/**
 * A template that cannot produce this email: the caller's to fix. Retrying will not help, so the
 * worker fails the job at once; `code` says which case it is.
 */
export class TemplateError extends KindedError<"invalid_template"> {
  override readonly name = "TemplateError";
  override readonly code: TemplateErrorCode;
  readonly template_id: string | undefined;
  readonly variable: string | undefined;
  /** The part at fault (`html_template`, `html`, …): gRPC names it as a field violation. */
  readonly field: string | undefined;

  constructor(
    code: TemplateErrorCode,
    message: string,
    details: {
      template_id?: string | undefined;
      variable?: string | undefined;
      field?: string | undefined;
      cause?: unknown;
    } = {},
  ) {
    super("invalid_template", message, { code, cause: details.cause });
    this.code = code;
    this.template_id = details.template_id;
    this.variable = details.variable;
    this.field = details.field;
  }
}
