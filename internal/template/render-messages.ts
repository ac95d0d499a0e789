import type { RenderedEmail, TemplateParts } from "./compile-template.ts";
import { TemplateError, type TemplateErrorCode } from "./errors.ts";
import type { OutputLimits } from "./rendered-output.ts";

/**
 * What a render thread is asked, one entry per email (a message carries a batch of them). `stored` keeps the compiled template under
 * `key` (id and row version); `inline` keeps it under a hash of its content, computed in the thread;
 * `draft` (previews) keeps nothing; `check` only compiles.
 */
export interface RenderRequest {
  id: number;
  op: "stored" | "inline" | "draft" | "check";
  key: string | undefined;
  templateId: string | undefined;
  parts: TemplateParts;
  data: Record<string, unknown>;
}

/** A TemplateError as it crosses the thread boundary (class instances arrive as plain objects). */
interface SentTemplateError {
  template: true;
  code: TemplateErrorCode;
  message: string;
  template_id: string | undefined;
  variable: string | undefined;
  field: string | undefined;
}

/** Anything else thrown in the thread: a bug, answered as an internal error. */
interface SentOtherError {
  template: false;
  message: string;
}

export type SentError = SentTemplateError | SentOtherError;

export type RenderResponse =
  | { id: number; ok: true; email: RenderedEmail }
  | { id: number; ok: false; error: SentError };

/** The thread's first message: requests sent before it wait, so start-up is not charged to a render. */
export interface ReadyMessage {
  ready: true;
}

export interface RenderThreadData {
  limits: OutputLimits;
  cacheSize: number;
  /** A ThreadProgress's buffer. */
  progress: SharedArrayBuffer;
}

export function sendError(error: unknown): SentError {
  if (error instanceof TemplateError)
    return {
      template: true,
      code: error.code,
      message: error.message,
      template_id: error.template_id,
      variable: error.variable,
      field: error.field,
    };
  return { template: false, message: error instanceof Error ? error.message : String(error) };
}

export function receiveError(sent: SentError): Error {
  if (!sent.template) return new Error(`template rendering failed: ${sent.message}`);
  return new TemplateError(sent.code, sent.message, {
    template_id: sent.template_id,
    variable: sent.variable,
    field: sent.field,
  });
}
