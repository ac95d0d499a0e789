import type { IncomingMessage, ServerResponse } from "node:http";
import { KindedError } from "../../errors/error-kind.ts";

/** Big enough for a job with the largest attachments allowed (10 MiB, base64). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The requests of one family of paths. */
export interface RouteFamily {
  /** Answers the request, or returns false when it is for none of the family's routes. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The whole body; past MAX_BODY_BYTES it stops reading and answers 413. */
export async function readBody(req: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new KindedError("payload_too_large", `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new KindedError("invalid_argument", "request body is not JSON", { code: "not_json" });
  }
}

export async function readJson(req: AsyncIterable<Buffer>): Promise<unknown> {
  return parseJson(await readBody(req));
}
