import { randomUUID } from "node:crypto";
import { z } from "zod";
import { unfoldableHeader } from "../provider/mime/header-field.ts";
import { validTraceparent } from "../tracing/trace-context.ts";
import type { EmailJob, JsonValue, Mailbox } from "./email-job.ts";
import { DERIVED_KEY_PREFIXES } from "./idempotency-keys.ts";
import { type FieldViolation, JobValidationError } from "./job-validation-error.ts";
import { PRIORITY_VALUES } from "./priority.ts";
import { PROVIDER_NAMES } from "./provider-names.ts";

/** Caps on what one job may carry: what providers accept, and what a queue message should hold. */
export const JOB_LIMITS = {
  subject_length: 500,
  html_bytes: 2 * 1024 * 1024,
  text_bytes: 1024 * 1024,
  attachments: 20,
  attachment_bytes_total: 10 * 1024 * 1024,
  header_value_length: 998,
  metadata_bytes: 16 * 1024,
  max_retries: 25,
  /** recipient_email, cc and bcc together: SES's cap per message (SendGrid's is higher). */
  recipients: 50,
  /** SendGrid's cap on categories per message. */
  tags: 10,
  tag_length: 100,
} as const;

/** Headers the service composes itself; letting a job set them would forge or break the message. */
const RESERVED_HEADERS = new Set([
  "from",
  "to",
  "cc",
  "bcc",
  "subject",
  "reply-to",
  "sender",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
]);

/** More custom headers than any email needs; the cap keeps a job's checks short. */
const MAX_HEADERS = 100;

const noLineBreaks = (value: string) => !/[\r\n]/.test(value);
const LINE_BREAK = "must not contain line breaks (header injection)";

/** C0 controls but TAB, and DEL: in a header, name or identifier they corrupt or smuggle. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u0008\u000A-\u001F\u007F]/;
/** The same, for fields whose line breaks are refused as header injection already. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL_BUT_LINE_BREAKS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
/** Bodies keep CR, LF and TAB (the MIME layer normalises line endings); NUL breaks SMTP and C. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const NUL = /\u0000/;
const INVALID_UNICODE = "must be valid Unicode";

const hex4 = (code: number) => code.toString(16).toUpperCase().padStart(4, "0");

/**
 * What is wrong with a text, if anything: a lone surrogate (it reaches the wire as U+FFFD or invalid
 * UTF-8, and PostgreSQL refuses it), or one of `controls`. One pass each, cheap on a 2 MiB body.
 */
function textProblem(value: string, controls: RegExp | undefined): string | undefined {
  if (!value.isWellFormed()) return INVALID_UNICODE;
  const control = controls?.exec(value)?.[0];
  return control === undefined
    ? undefined
    : `must not contain control characters (U+${hex4(control.charCodeAt(0))})`;
}

const checkText =
  (controls?: RegExp) =>
  (value: string, ctx: z.RefinementCtx): void => {
    const problem = textProblem(value, controls);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  };

const address = z
  .string()
  .max(254, "must be at most 254 characters (RFC 5321)")
  .pipe(z.email("must be a valid email address"))
  .refine(
    (value) => (value.split("@")[0] ?? "").length <= 64,
    "local part must be at most 64 characters (RFC 5321)",
  );

export const displayName = z
  .string()
  .max(255)
  .refine(noLineBreaks, LINE_BREAK)
  .superRefine(checkText(CONTROL_BUT_LINE_BREAKS));

const MAILBOX_TEXT = /^\s*(?:"?([^"<]*?)"?\s*<([^<>]+)>|([^<>\s]+))\s*$/;

/** `a@b.c`, `Name <a@b.c>` or `{ email, name }`. */
const mailbox = z.union([
  z.object({ email: address, name: displayName.optional() }),
  z.string().transform((value, ctx): Mailbox => {
    const match = MAILBOX_TEXT.exec(value);
    const email = match?.[2] ?? match?.[3];
    const parsed = email === undefined ? undefined : address.safeParse(email.trim());
    // `continue`: the union then reports this branch's reason, not a bare "Invalid input".
    if (!parsed?.success) {
      ctx.addIssue({ code: "custom", message: 'must be "address" or "Name <address>"', continue: true });
      return z.NEVER;
    }
    const name = match?.[1]?.trim();
    const problem =
      name === undefined
        ? undefined
        : noLineBreaks(name)
          ? textProblem(name, CONTROL_BUT_LINE_BREAKS)
          : LINE_BREAK;
    if (problem !== undefined) {
      ctx.addIssue({ code: "custom", message: problem, continue: true });
      return z.NEVER;
    }
    return name ? { email: parsed.data, name } : { email: parsed.data };
  }),
]);

/** Deeper than this, a value is refused rather than walked (a queue message is not a tree of 100 levels). */
const MAX_JSON_DEPTH = 64;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

interface JsonProblem {
  /** Where, relative to the value checked. */
  path: (string | number)[];
  message: string;
}

const NOT_JSON = "must hold only JSON values (string, finite number, boolean, null, array, object)";
const TOO_DEEP = `must be nested at most ${MAX_JSON_DEPTH} deep`;

/**
 * The first thing in `value` JSON cannot carry (a function, undefined, NaN, a Date…), a string or
 * key that is not valid Unicode, or nesting past MAX_JSON_DEPTH; undefined when there is none.
 * Walked by hand, and before anything serialises the value: the recursion stops at the depth limit,
 * so 100k levels of nesting cost 64 steps, not a stack overflow. (A zod union per value allocated
 * a failed branch's issues for every array and object.) The path is built only on the way out.
 */
function jsonProblem(value: unknown, depth = 0): JsonProblem | undefined {
  if (value === null || typeof value === "boolean") return undefined;
  if (typeof value === "string")
    return value.isWellFormed() ? undefined : { path: [], message: INVALID_UNICODE };
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path: [], message: NOT_JSON };
  if (depth >= MAX_JSON_DEPTH) return { path: [], message: TOO_DEEP };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], depth + 1);
      if (problem !== undefined) {
        problem.path.unshift(i);
        return problem;
      }
    }
    return undefined;
  }
  if (!isPlainObject(value)) return { path: [], message: NOT_JSON };
  for (const key in value) {
    const problem = key.isWellFormed()
      ? jsonProblem(value[key], depth + 1)
      : { path: [], message: INVALID_UNICODE };
    if (problem !== undefined) {
      problem.path.unshift(key);
      return problem;
    }
  }
  return undefined;
}

/**
 * An object of JSON values; the issue names the first value that is not one (nesting too deep is
 * named at the field itself, not 64 keys down). With `maxBytes`, its JSON is serialised, once the
 * walk has shown that is safe, and measured.
 */
export const jsonObject = (maxBytes?: number) =>
  z.custom<Record<string, JsonValue>>().superRefine((value, ctx) => {
    if (!isPlainObject(value)) {
      ctx.addIssue({ code: "custom", message: "must be an object" });
      return;
    }
    const problem = jsonProblem(value);
    if (problem !== undefined) {
      const path = problem.message === TOO_DEEP ? [] : problem.path;
      ctx.addIssue({ code: "custom", path, message: problem.message });
    } else if (maxBytes !== undefined && Buffer.byteLength(JSON.stringify(value)) > maxBytes) {
      ctx.addIssue({ code: "custom", message: `must be at most ${maxBytes} bytes` });
    }
  });

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const attachment = z.object({
  filename: z
    .string()
    .min(1)
    .max(255)
    .refine(noLineBreaks, LINE_BREAK)
    .superRefine(checkText(CONTROL_BUT_LINE_BREAKS))
    .refine((name) => !/[/\\]/.test(name), "must be a file name, not a path"),
  content: z
    .string()
    .transform((value) => value.replace(/\s+/g, ""))
    .refine((value) => value.length % 4 === 0 && BASE64.test(value), "must be base64"),
  content_type: z
    .string()
    .regex(/^[\w.+-]+\/[\w.+-]+$/, "must be a MIME type such as application/pdf")
    .optional(),
});

/** The job type's alphabet: SendGrid takes it as is, and it maps onto SES's tag alphabet plainly. */
const TAG = /^[A-Za-z0-9_.:-]+$/;

/** A batch's id (SendBatch's batch_id), as its jobs and the batch calls take it. */
export const BATCH_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
export const BATCH_ID_RULE = "must be 1-100 letters, digits, _ . : -";

const tag = z
  .string()
  .min(1)
  .max(JOB_LIMITS.tag_length, `must be at most ${JOB_LIMITS.tag_length} characters`)
  .regex(TAG, "must be letters, digits, _ . : -");

const priority = z.union([
  z.enum(["low", "normal", "high", "critical"]).transform((name) => PRIORITY_VALUES[name]),
  z
    .number()
    .int()
    .min(-1, "must be low, normal, high, critical or -1..2")
    .max(2, "must be low, normal, high, critical or -1..2"),
]);

const jobSchema = z
  .object({
    id: z.uuid("must be a UUID").optional(),
    type: z
      .string()
      .min(1)
      .max(50)
      .regex(/^[A-Za-z0-9_.:-]+$/, "must be letters, digits, _ . : -")
      .optional(),
    job_type: z.string().optional(),
    recipient_email: address,
    recipient_name: displayName.optional(),
    template_id: z.string().min(1).max(100).superRefine(checkText(CONTROL)).optional(),
    template_data: jsonObject().optional(),
    subject: z
      .string()
      .max(JOB_LIMITS.subject_length, `must be at most ${JOB_LIMITS.subject_length} characters`)
      .refine(noLineBreaks, LINE_BREAK)
      .superRefine(checkText(CONTROL_BUT_LINE_BREAKS))
      .optional(),
    html: z
      .string()
      .refine(
        (v) => Buffer.byteLength(v) <= JOB_LIMITS.html_bytes,
        `must be at most ${JOB_LIMITS.html_bytes} bytes`,
      )
      .superRefine(checkText(NUL))
      .optional(),
    text: z
      .string()
      .refine(
        (v) => Buffer.byteLength(v) <= JOB_LIMITS.text_bytes,
        `must be at most ${JOB_LIMITS.text_bytes} bytes`,
      )
      .superRefine(checkText(NUL))
      .optional(),
    from: mailbox.optional(),
    reply_to: mailbox.optional(),
    // Capped here only against huge arrays; the recipients' shared cap is checked below.
    cc: z.array(mailbox).max(JOB_LIMITS.recipients).optional(),
    bcc: z.array(mailbox).max(JOB_LIMITS.recipients).optional(),
    tags: z.array(tag).max(JOB_LIMITS.tags, `must be at most ${JOB_LIMITS.tags} tags`).optional(),
    sandbox: z.boolean().optional(),
    headers: z
      // Counted before anything is checked per header: 100k of them would cost seconds of issues.
      .custom<unknown>(
        (value) => !isPlainObject(value) || Object.keys(value).length <= MAX_HEADERS,
        `must be at most ${MAX_HEADERS} headers`,
      )
      .pipe(z.record(z.string(), z.string()))
      .optional(),
    attachments: z.array(attachment).max(JOB_LIMITS.attachments).optional(),
    priority: priority.optional(),
    scheduled_at: z
      .union([z.iso.datetime({ offset: true, message: "must be an RFC 3339 time" }), z.date()])
      .optional(),
    tracked: z.boolean().optional(),
    idempotency_key: z
      .string()
      .min(1)
      .max(255)
      .superRefine(checkText(CONTROL))
      .refine(
        (key) => !DERIVED_KEY_PREFIXES.some((prefix) => key.startsWith(prefix)),
        `must not start with ${DERIVED_KEY_PREFIXES.join(" or ")} (the service derives keys so)`,
      )
      .optional(),
    provider: z.enum(PROVIDER_NAMES).optional(),
    max_retries: z.number().int().min(0).max(JOB_LIMITS.max_retries).optional(),
    metadata: jsonObject(JOB_LIMITS.metadata_bytes).optional(),
    batch_id: z.string().regex(BATCH_ID, BATCH_ID_RULE).optional(),
    campaign_id: z.uuid("must be a UUID").optional(),
    campaign_recipient: z.number().int().min(1).optional(),
    // Checked where it is used: a trace context that is not one is ignored, never a reason to refuse.
    traceparent: z.string().max(64).optional().catch(undefined),
    tracestate: z.string().max(512).optional().catch(undefined),
  })
  .superRefine((job, ctx) => {
    const type = job.type ?? job.job_type;
    if (type === undefined) ctx.addIssue({ code: "custom", path: ["type"], message: "is required" });
    else if (job.type === undefined && !/^[A-Za-z0-9_.:-]{1,50}$/.test(type))
      ctx.addIssue({ code: "custom", path: ["job_type"], message: "must be 1-50 letters, digits, _ . : -" });
    if (job.template_id === undefined) {
      if (job.html === undefined && job.text === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["template_id"],
          message: "is required unless html or text is given",
        });
      // A message needs something to show: an empty text with no HTML would go out blank.
      else if (!job.html?.trim() && !job.text?.trim())
        ctx.addIssue(
          job.text === undefined
            ? {
                code: "custom",
                path: ["html"],
                message: "must not be empty when there is no text or template_id",
              }
            : {
                code: "custom",
                path: ["text"],
                message: "must not be empty when there is no html or template_id",
              },
        );
      if (job.subject === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["subject"],
          message: "is required unless template_id is given",
        });
    }
    for (const [name, value] of Object.entries(job.headers ?? {})) {
      if (!/^[!-9;-~]+$/.test(name))
        ctx.addIssue({ code: "custom", path: ["headers", name], message: "is not a valid header name" });
      else if (RESERVED_HEADERS.has(name.toLowerCase()))
        ctx.addIssue({
          code: "custom",
          path: ["headers", name],
          message: "is set by the service and cannot be overridden",
        });
      const problem = noLineBreaks(value) ? textProblem(value, CONTROL_BUT_LINE_BREAKS) : LINE_BREAK;
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["headers", name], message: problem });
      else if (value.length > JOB_LIMITS.header_value_length)
        ctx.addIssue({ code: "custom", path: ["headers", name], message: "is longer than 998 characters" });
      else {
        const unfoldable = unfoldableHeader(name, value);
        if (unfoldable !== undefined)
          ctx.addIssue({ code: "custom", path: ["headers", name], message: unfoldable });
      }
    }
    if (job.batch_id !== undefined && job.tracked !== true)
      ctx.addIssue({
        code: "custom",
        path: ["batch_id"],
        message: "needs a tracked job: a batch is listed and cancelled through its jobs' records",
      });
    if ((job.campaign_id === undefined) !== (job.campaign_recipient === undefined))
      ctx.addIssue({
        code: "custom",
        path: [job.campaign_id === undefined ? "campaign_id" : "campaign_recipient"],
        message: "campaign_id and campaign_recipient come together",
      });
    else if (job.campaign_id !== undefined && job.tracked === true)
      ctx.addIssue({
        code: "custom",
        path: ["campaign_id"],
        message: "is for untracked jobs: a tracked campaign job's record names its campaign",
      });
    checkRecipients(job, ctx);
    const attachmentBytes = (job.attachments ?? []).reduce((sum, a) => sum + decodedLength(a.content), 0);
    if (attachmentBytes > JOB_LIMITS.attachment_bytes_total)
      ctx.addIssue({
        code: "custom",
        path: ["attachments"],
        message: `total more than ${JOB_LIMITS.attachment_bytes_total} bytes`,
      });
  });

/**
 * At most JOB_LIMITS.recipients in all, and each address once: SendGrid refuses a message naming an
 * address twice across to, cc and bcc, and a relay would deliver it twice. Addresses compare without
 * case, as the suppression list does.
 */
function checkRecipients(
  job: { recipient_email: string; cc?: Mailbox[] | undefined; bcc?: Mailbox[] | undefined },
  ctx: z.RefinementCtx,
): void {
  const cc = job.cc ?? [];
  const bcc = job.bcc ?? [];
  if (1 + cc.length + bcc.length > JOB_LIMITS.recipients) {
    ctx.addIssue({
      code: "custom",
      path: [bcc.length > 0 ? "bcc" : "cc"],
      message: `recipient_email, cc and bcc must be at most ${JOB_LIMITS.recipients} recipients in all`,
    });
    return;
  }
  // This runs even when some fields failed, so an address may be missing or not a string.
  const seen = new Set([String(job.recipient_email).toLowerCase()]);
  for (const [field, list] of [
    ["cc", cc],
    ["bcc", bcc],
  ] as const) {
    list.forEach((mailbox, i) => {
      if (typeof mailbox?.email !== "string") return;
      const key = mailbox.email.toLowerCase();
      if (seen.has(key))
        ctx.addIssue({ code: "custom", path: [field, i, "email"], message: "repeats another recipient" });
      seen.add(key);
    });
  }
}

/** The bytes a (whitespace-free, padded) base64 string decodes to: its padding holds none. */
function decodedLength(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`;
    return out === "" ? String(key) : `${out}.${String(key)}`;
  }, "");
}

interface ParseJobOptions {
  /** Id for a job that arrives without one; stable per queue message so redeliveries agree. */
  defaultId?: string;
}

/**
 * Validates a job from any edge (gRPC, HTTP, a queue message, the CLI) and normalises it: `type`
 * from `type` or `job_type`, priority as a number, addresses as mailboxes, `scheduled_at` as a Date.
 * Every violation is reported with the field it concerns.
 */
export function parseJob(input: unknown, options: ParseJobOptions = {}): EmailJob {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw new JobValidationError([{ field: "", description: "must be a JSON object" }]);
  const result = jobSchema.safeParse(input);
  if (!result.success) {
    const violations: FieldViolation[] = result.error.issues.map((issue) => ({
      field: fieldPath(issue.path) || "job",
      description: issue.message,
    }));
    throw new JobValidationError(violations);
  }
  const data = result.data;
  const job: EmailJob = {
    id: data.id ?? options.defaultId ?? randomUUID(),
    type: (data.type ?? data.job_type) as string,
    recipient_email: data.recipient_email,
    template_data: data.template_data ?? {},
    headers: data.headers ?? {},
    attachments: data.attachments ?? [],
    priority: data.priority ?? 0,
    tracked: data.tracked ?? false,
  };
  if (data.recipient_name !== undefined) job.recipient_name = data.recipient_name;
  if (data.template_id !== undefined) job.template_id = data.template_id;
  if (data.subject !== undefined) job.subject = data.subject;
  if (data.html !== undefined) job.html = data.html;
  if (data.text !== undefined) job.text = data.text;
  if (data.from !== undefined) job.from = data.from;
  if (data.reply_to !== undefined) job.reply_to = data.reply_to;
  if (data.cc !== undefined && data.cc.length > 0) job.cc = data.cc;
  if (data.bcc !== undefined && data.bcc.length > 0) job.bcc = data.bcc;
  // A tag given twice is the same tag: kept once, in first-seen order.
  if (data.tags !== undefined && data.tags.length > 0) job.tags = [...new Set(data.tags)];
  if (data.sandbox === true) job.sandbox = true;
  if (data.scheduled_at !== undefined) job.scheduled_at = new Date(data.scheduled_at);
  if (data.idempotency_key !== undefined) job.idempotency_key = data.idempotency_key;
  if (data.provider !== undefined) job.provider = data.provider;
  if (data.max_retries !== undefined) job.max_retries = data.max_retries;
  if (data.metadata !== undefined) job.metadata = data.metadata;
  if (data.batch_id !== undefined) job.batch_id = data.batch_id;
  if (data.campaign_id !== undefined && data.campaign_recipient !== undefined) {
    job.campaign_id = data.campaign_id;
    job.campaign_recipient = data.campaign_recipient;
  }
  const traceparent = validTraceparent(data.traceparent);
  if (traceparent !== undefined) {
    job.traceparent = traceparent;
    if (data.tracestate !== undefined) job.tracestate = data.tracestate;
  }
  return job;
}

/** Validates one email address (RFC 5321 limits), naming `field` when it is not one. */
export function parseAddress(value: unknown, field: string): string {
  const result = address.safeParse(value);
  if (!result.success)
    throw new JobValidationError([
      { field, description: result.error.issues[0]?.message ?? "must be an email address" },
    ]);
  return result.data;
}
