import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { KindedError } from "../../errors/error-kind.ts";
import { JOB_LIMITS } from "../../job/parse-job.ts";

/**
 * The largest intake body read, derived from a job's own limits (JOB_LIMITS) as the gRPC limit is:
 * attachments travel base64 in JSON (4 bytes for every 3), and JSON escaping can at worst double a
 * string (every `"` becomes `\"`), so the largest valid job is
 *
 *   ⌈attachment_bytes_total / 3⌉ × 4 + 2 × (html_bytes + text_bytes + metadata_bytes) + 1 MiB
 *   ≈ 13.3 MiB + 6 MiB + 1 MiB ≈ 20.4 MiB
 *
 * A body under it but over a job's limits reaches validation, which answers 400 naming the field and
 * its limit; only a body larger than any valid job is refused unread, with 413 naming this limit.
 */
export const MAX_BODY_BYTES =
  Math.ceil(JOB_LIMITS.attachment_bytes_total / 3) * 4 +
  2 * (JOB_LIMITS.html_bytes + JOB_LIMITS.text_bytes + JOB_LIMITS.metadata_bytes) +
  1024 * 1024;

/** Provider webhooks post event batches of a few KiB; nothing legitimate comes near 1 MiB. */
export const WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;

/** The requests of one family of paths. */
export interface RouteFamily {
  /** Answers the request, or returns false when it is for none of the family's routes. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

/** Seconds a client is asked to wait before trying a 503 again: about how long a failover takes. */
export const RETRY_AFTER_SECONDS = 5;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    // A 503 is temporary (a dependency away, the instance draining): say when to come back.
    ...(status === 503 && { "retry-after": String(RETRY_AFTER_SECONDS) }),
  });
  res.end(text);
}

/** A request body as read here: its chunks, and its headers when it is a real request. */
type Body = AsyncIterable<Buffer> & { headers?: IncomingHttpHeaders };

function tooLarge(limit: number): KindedError {
  return new KindedError("payload_too_large", `request body over ${limit} bytes`);
}

/**
 * The whole body; past `limit` bytes it stops reading and answers 413. A body that declares a larger
 * Content-Length is refused before a byte of it is read.
 */
export async function readBody(req: Body, limit = MAX_BODY_BYTES): Promise<Buffer> {
  if (Number(req.headers?.["content-length"] ?? 0) > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Refuses what Buffer#toString would silently turn into U+FFFD: the sender's text, changed. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function parseJson(body: Buffer): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new KindedError("invalid_argument", "request body is not valid UTF-8", { code: "not_utf8" });
  }
  let inexact: string | undefined;
  let parsed: unknown;
  try {
    // Only a body with a run of 16 digits can hold an integer JavaScript cannot keep exactly.
    parsed = /\d{16}/.test(text)
      ? JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
          if (
            typeof value === "number" &&
            !Number.isSafeInteger(value) &&
            /^-?\d+$/.test(context?.source ?? "")
          )
            inexact ??= context?.source;
          return value;
        })
      : JSON.parse(text);
  } catch {
    throw new KindedError("invalid_argument", "request body is not JSON", { code: "not_json" });
  }
  // JSON.parse would quietly turn 9007199254740993 into …992: an id in metadata would change.
  if (inexact !== undefined)
    throw new KindedError(
      "invalid_argument",
      `the number ${inexact} is beyond what a JSON number holds exactly (integers up to ±2^53); send it as a string`,
      { code: "inexact_number" },
    );
  return parsed;
}

export async function readJson(req: Body): Promise<unknown> {
  return parseJson(await readBody(req));
}
