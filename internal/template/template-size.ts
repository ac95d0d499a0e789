import { JobValidationError } from "../job/job-validation-error.ts";

/** A template part by the name its caller knows it under (`html_template`, `html`, …). */
export type NamedSource = readonly [field: string, source: string | null | undefined];

export interface OversizedTemplate {
  /** The parts counted, in the order given. */
  fields: string[];
  /** The largest of them: the one to name when only one can be. */
  largest: string;
  bytes: number;
}

/**
 * The parts, counted together, when their UTF-8 size is over `maxBytes` (compiling is what a large
 * source makes slow, so the limit is on the source, apart from the body limits); undefined when
 * within. `onlyTemplates` counts only parts with an expression in them (inline content).
 */
export function oversizedTemplate(
  parts: readonly NamedSource[],
  maxBytes: number,
  onlyTemplates: boolean,
): OversizedTemplate | undefined {
  const counted = parts.filter(
    (part): part is readonly [string, string] =>
      typeof part[1] === "string" && (!onlyTemplates || part[1].includes("{{")),
  );
  // A UTF-16 unit is at most 3 UTF-8 bytes: the common small template skips the byte count.
  if (counted.reduce((sum, [, source]) => sum + source.length, 0) * 3 <= maxBytes) return undefined;
  const sizes = counted.map(([field, source]) => ({ field, bytes: Buffer.byteLength(source) }));
  const bytes = sizes.reduce((sum, size) => sum + size.bytes, 0);
  if (bytes <= maxBytes) return undefined;
  const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { fields: sizes.map((size) => size.field), largest: largest.field, bytes };
}

/** The sentence both intake and the renderer refuse an oversized template with. */
export function templateTooLargeMessage(oversized: OversizedTemplate, maxBytes: number): string {
  const parts =
    oversized.fields.length === 1 ? oversized.fields[0] : `${oversized.fields.join(", ")} together`;
  return `template source is ${oversized.bytes} bytes (${parts}), over template_max_bytes (${maxBytes})`;
}

/**
 * Intake's check of a job's inline content: a part that is a template is compiled by the worker, in
 * time growing with its size, so a source over the limit is refused naming each part counted. A job
 * with a template_id sends its subject as written, so only inline jobs are checked.
 */
export function refuseOversizedInlineTemplate(
  job: {
    template_id?: string | undefined;
    subject?: string | undefined;
    html?: string | undefined;
    text?: string | undefined;
  },
  maxBytes: number,
): void {
  if (job.template_id !== undefined) return;
  const named: NamedSource[] = [
    ["subject", job.subject],
    ["html", job.html],
    ["text", job.text],
  ];
  const oversized = oversizedTemplate(named, maxBytes, true);
  if (oversized === undefined) return;
  const description = templateTooLargeMessage(oversized, maxBytes);
  throw new JobValidationError(oversized.fields.map((field) => ({ field, description })));
}
