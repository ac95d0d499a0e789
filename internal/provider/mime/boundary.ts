import { randomFillSync } from "node:crypto";

const RANDOM_BYTES = 24;
/** Random bytes are drawn in bulk: one call per 256 boundaries costs far less than one per message. */
const POOL_SIZE = RANDOM_BYTES * 256;
let pool = Buffer.alloc(0);
let used = 0;

function randomText(): string {
  if (used + RANDOM_BYTES > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    used = 0;
  }
  used += RANDOM_BYTES;
  return pool.toString("base64url", used - RANDOM_BYTES, used);
}

/**
 * A multipart boundary nobody can predict (24 random bytes; base64url is all RFC 2046 bchars, 37
 * characters in all, under the limit of 70). RFC 2046 §5.1.1: the boundary must not occur in any
 * encapsulated part, so one found in `contents` (the parts as encoded) is replaced by another.
 */
export function newBoundary(contents: readonly string[] = []): string {
  for (;;) {
    const boundary = `=_ew_${randomText()}`;
    if (!contents.some((content) => content.includes(boundary))) return boundary;
  }
}
