import { InvalidCursorError } from "./keyset-cursor.ts";

/**
 * A page position as clients see it: opaque (base64url), so nobody builds one by hand or comes to
 * depend on what a driver's position looks like.
 */
export function encodePageToken(position: string): string {
  return Buffer.from(position, "utf8").toString("base64url");
}

/** The position inside a token from encodePageToken; InvalidCursorError for anything else. */
export function decodePageToken(token: string): string {
  const position = Buffer.from(token, "base64url").toString("utf8");
  // Node decodes any text as base64url, skipping what does not fit: only a token that encodes back
  // to itself was one we gave.
  if (position === "" || encodePageToken(position) !== token)
    throw new InvalidCursorError("page_token is not one returned by a previous page");
  return position;
}
