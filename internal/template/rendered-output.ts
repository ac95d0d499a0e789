import { TemplateError } from "./errors.ts";

/** The output budget: the job's body limits, so a rendered email is never larger than a sent one. */
export interface OutputLimits {
  subject_length: number;
  html_bytes: number;
  text_bytes: number;
}

function overBudget(message: string, templateId: string | undefined): TemplateError {
  const where = templateId === undefined ? "inline content" : `template "${templateId}"`;
  return new TemplateError("render_budget", `${where}: ${message}`, { template_id: templateId });
}

/** A subject is one line: line breaks and the space around them fold into one space. */
export function normalizeSubject(subject: string): string {
  return subject.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

export function checkBytes(
  output: string,
  maxBytes: number,
  part: string,
  templateId: string | undefined,
): void {
  // A UTF-16 unit is at least one UTF-8 byte: a long string is refused before it is flattened.
  if (output.length > maxBytes || Buffer.byteLength(output) > maxBytes)
    throw overBudget(`rendered ${part} over ${maxBytes} bytes`, templateId);
}

export function checkSubject(subject: string, maxLength: number, templateId: string | undefined): void {
  if (subject.length > maxLength)
    throw overBudget(`rendered subject over ${maxLength} characters`, templateId);
}
