/**
 * How much of a dead letter's body a listing carries: a thousand letters of this size still fit
 * gRPC's default 4 MiB message limit, so one huge poison message cannot make the list unreadable.
 */
export const DEAD_LETTER_BODY_BYTES = 3_072;

/** A dead letter's body for a listing: cut at a character boundary, with its whole size. */
export function truncatedBody(body: string): { body: string; body_bytes: number; body_truncated: boolean } {
  const bytes = Buffer.byteLength(body);
  if (bytes <= DEAD_LETTER_BODY_BYTES) return { body, body_bytes: bytes, body_truncated: false };
  const head = Buffer.from(body.slice(0, DEAD_LETTER_BODY_BYTES));
  let end = DEAD_LETTER_BODY_BYTES;
  // Back off a cut through a multi-byte character: UTF-8 continuation bytes are 10xxxxxx.
  while (end > 0 && ((head[end] ?? 0) & 0xc0) === 0x80) end--;
  return { body: head.subarray(0, end).toString("utf8"), body_bytes: bytes, body_truncated: true };
}
