import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { EmailJob, JsonValue, Mailbox } from "./email-job.ts";
import { type FieldViolation, JobValidationError } from "./job-validation-error.ts";
import { PRIORITY_VALUES } from "./priority.ts";
import { PROVIDER_NAMES } from "./provider-names.ts";

/** Caps on what one job may carry: what providers accept, and what a queue message should hold. */
const JOB_LIMITS = {
  subject_length: 500,
  html_bytes: 2 * 1024 * 1024,
  text_bytes: 1024 * 1024,
  attachments: 20,
  attachment_bytes_total: 10 * 1024 * 1024,
  header_value_length: 998,
  metadata_bytes: 16 * 1024,
  max_retries: 25,
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

const noLineBreaks = (value: string) => !/[\r\n]/.test(value);
const LINE_BREAK = "must not contain line breaks (header injection)";

const address = z
  .string()
  .max(254, "must be at most 254 characters (RFC 5321)")
  .pipe(z.email("must be a valid email address"))
  .refine(
    (value) => (value.split("@")[0] ?? "").length <= 64,
    "local part must be at most 64 characters (RFC 5321)",
  );

const displayName = z.string().max(255).refine(noLineBreaks, LINE_BREAK);

const MAILBOX_TEXT = /^\s*(?:"?([^"<]*?)"?\s*<([^<>]+)>|([^<>\s]+))\s*$/;

/** `a@b.c`, `Name <a@b.c>` or `{ email, name }`. */
const mailbox = z.union([
  z.object({ email: address, name: displayName.optional() }),
  z.string().transform((value, ctx): Mailbox => {
    const match = MAILBOX_TEXT.exec(value);
    const email = match?.[2] ?? match?.[3];
    const parsed = email === undefined ? undefined : address.safeParse(email.trim());
    if (!parsed?.success) {
      ctx.addIssue({ code: "custom", message: 'must be "address" or "Name <address>"' });
      return z.NEVER;
    }
    const name = match?.[1]?.trim();
    if (name !== undefined && !noLineBreaks(name)) {
      ctx.addIssue({ code: "custom", message: LINE_BREAK });
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

/**
 * Where in `value` the first thing JSON cannot carry sits (a function, undefined, NaN, a Date…), as
 * a path relative to `value`, or undefined when everything can. Walked by hand: a zod union per
 * value allocated a failed branch's issues for every array and object, the largest share of a job's
 * parse. The path is built only on the way out of a failure.
 */
function nonJsonAt(value: unknown, depth = 0): (string | number)[] | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : [];
  if (depth >= MAX_JSON_DEPTH) return [];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = nonJsonAt(value[i], depth + 1);
      if (at !== undefined) {
        at.unshift(i);
        return at;
      }
    }
    return undefined;
  }
  if (!isPlainObject(value)) return [];
  for (const key in value) {
    const at = nonJsonAt(value[key], depth + 1);
    if (at !== undefined) {
      at.unshift(key);
      return at;
    }
  }
  return undefined;
}

/** An object of JSON values; the issue names the first value that is not one. */
const jsonObject = z.custom<Record<string, JsonValue>>().superRefine((value, ctx) => {
  if (!isPlainObject(value)) {
    ctx.addIssue({ code: "custom", message: "must be an object" });
    return;
  }
  const at = nonJsonAt(value);
  if (at !== undefined)
    ctx.addIssue({
      code: "custom",
      path: at,
      message: `must hold only JSON values (string, finite number, boolean, null, array, object), nested at most ${MAX_JSON_DEPTH} deep`,
    });
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const attachment = z.object({
  filename: z
    .string()
    .min(1)
    .max(255)
    .refine(noLineBreaks, LINE_BREAK)
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
    template_id: z.string().min(1).max(100).optional(),
    template_data: jsonObject.optional(),
    subject: z
      .string()
      .max(JOB_LIMITS.subject_length, `must be at most ${JOB_LIMITS.subject_length} characters`)
      .refine(noLineBreaks, LINE_BREAK)
      .optional(),
    html: z
      .string()
      .refine(
        (v) => Buffer.byteLength(v) <= JOB_LIMITS.html_bytes,
        `must be at most ${JOB_LIMITS.html_bytes} bytes`,
      )
      .optional(),
    text: z
      .string()
      .refine(
        (v) => Buffer.byteLength(v) <= JOB_LIMITS.text_bytes,
        `must be at most ${JOB_LIMITS.text_bytes} bytes`,
      )
      .optional(),
    from: mailbox.optional(),
    reply_to: mailbox.optional(),
    headers: z.record(z.string(), z.string()).optional(),
    attachments: z.array(attachment).max(JOB_LIMITS.attachments).optional(),
    priority: priority.optional(),
    scheduled_at: z
      .union([z.iso.datetime({ offset: true, message: "must be an RFC 3339 time" }), z.date()])
      .optional(),
    tracked: z.boolean().optional(),
    idempotency_key: z.string().min(1).max(255).optional(),
    provider: z.enum(PROVIDER_NAMES).optional(),
    max_retries: z.number().int().min(0).max(JOB_LIMITS.max_retries).optional(),
    metadata: jsonObject.optional(),
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
      if (!noLineBreaks(value))
        ctx.addIssue({ code: "custom", path: ["headers", name], message: LINE_BREAK });
      else if (value.length > JOB_LIMITS.header_value_length)
        ctx.addIssue({ code: "custom", path: ["headers", name], message: "is longer than 998 characters" });
    }
    const attachmentBytes = (job.attachments ?? []).reduce(
      (sum, a) => sum + Math.floor((a.content.length * 3) / 4),
      0,
    );
    if (attachmentBytes > JOB_LIMITS.attachment_bytes_total)
      ctx.addIssue({
        code: "custom",
        path: ["attachments"],
        message: `total more than ${JOB_LIMITS.attachment_bytes_total} bytes`,
      });
    if (job.metadata && Buffer.byteLength(JSON.stringify(job.metadata)) > JOB_LIMITS.metadata_bytes)
      ctx.addIssue({
        code: "custom",
        path: ["metadata"],
        message: `must be at most ${JOB_LIMITS.metadata_bytes} bytes`,
      });
  });

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
  if (data.scheduled_at !== undefined) job.scheduled_at = new Date(data.scheduled_at);
  if (data.idempotency_key !== undefined) job.idempotency_key = data.idempotency_key;
  if (data.provider !== undefined) job.provider = data.provider;
  if (data.max_retries !== undefined) job.max_retries = data.max_retries;
  if (data.metadata !== undefined) job.metadata = data.metadata;
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
