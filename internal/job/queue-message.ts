import { KindedError } from "../errors/error-kind.ts";
import { deadLetterReason } from "../queue/dead-letter-reason.ts";
import { type TraceCarrier, validTraceparent } from "../tracing/trace-context.ts";
import type { EmailJob } from "./email-job.ts";
import { isJobId } from "./job-id.ts";
import { JobValidationError } from "./job-validation-error.ts";
import { parseJob } from "./parse-job.ts";

/**
 * What a queue message carries. The fast path puts the whole job on the queue; the tracked path
 * puts only a reference to the job's row (`{"id":"…","tracked":true}`), which holds the rest. A
 * tracked job published straight to the queue by another service arrives whole, `tracked: true`.
 */
export type QueueMessageContent =
  | { kind: "job"; job: EmailJob }
  | { kind: "tracked_reference"; id: string; trace: TraceCarrier | undefined };

/** A queue message that is not a job: it goes to the dead-letter store with this reason. */
export class MalformedMessageError extends KindedError<"malformed_message"> {
  override readonly name = "MalformedMessageError";

  constructor(reason: string) {
    // The dead-letter reason's own words, so the cause reads back as "malformed".
    super("malformed_message", deadLetterReason.malformed(reason));
  }
}

/** A whole job, as the fast path publishes it and other services may: JSON, times in RFC 3339. */
export function encodeJob(job: EmailJob): string {
  return JSON.stringify(job);
}

/** A reference to a tracked job's row, with the trace it continues when there is one. */
export function encodeTrackedReference(id: string, trace?: TraceCarrier): string {
  if (!trace?.traceparent) return JSON.stringify({ id, tracked: true });
  return JSON.stringify({
    id,
    tracked: true,
    traceparent: trace.traceparent,
    ...(trace.tracestate && { tracestate: trace.tracestate }),
  });
}

/** What a retry or deferral of `job` carries: a tracked job's row holds it, so only its reference. */
export function encodeNextAttempt(job: EmailJob): string {
  return job.tracked ? encodeTrackedReference(job.id, job) : encodeJob(job);
}

/**
 * The largest message body taken apart. A job's own limits (bodies, attachments, metadata) come to
 * about 13 MiB as JSON; anything much larger was not written by a job's publisher.
 */
export const MAX_QUEUE_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * Takes a message apart, or throws MalformedMessageError saying why. A job that arrives without an
 * id is named by `idForJobWithoutOne`, called only then (redeliveries of one message must agree).
 */
export function decodeQueueMessage(body: string, idForJobWithoutOne: () => string): QueueMessageContent {
  // The length is checked first: counting a huge body's UTF-8 bytes already costs.
  if (body.length > MAX_QUEUE_MESSAGE_BYTES || Buffer.byteLength(body) > MAX_QUEUE_MESSAGE_BYTES)
    throw new MalformedMessageError(`body is larger than ${MAX_QUEUE_MESSAGE_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new MalformedMessageError("body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new MalformedMessageError("body is not a JSON object");
  const fields = value as {
    id?: unknown;
    tracked?: unknown;
    recipient_email?: unknown;
    traceparent?: unknown;
    tracestate?: unknown;
  };
  if (fields.tracked === true && fields.recipient_email === undefined) {
    if (!isJobId(fields.id)) throw new MalformedMessageError("a tracked job reference needs a UUID id");
    const traceparent = validTraceparent(fields.traceparent);
    const tracestate = typeof fields.tracestate === "string" ? fields.tracestate.slice(0, 512) : undefined;
    return {
      kind: "tracked_reference",
      id: fields.id,
      trace: traceparent ? { traceparent, ...(tracestate && { tracestate }) } : undefined,
    };
  }
  try {
    const options = fields.id === undefined ? { defaultId: idForJobWithoutOne() } : {};
    return { kind: "job", job: parseJob(value, options) };
  } catch (error) {
    if (error instanceof JobValidationError) throw new MalformedMessageError(error.message);
    throw error;
  }
}
