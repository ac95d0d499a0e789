/**
 * DKIM's relaxed canonicalisation (RFC 6376 §3.4.2 and §3.4.4), on "binary" strings: one char per
 * byte (latin1), so UTF-8 headers and bodies are hashed byte for byte as they are sent.
 *
 * Only SP and HTAB count as whitespace. JavaScript's trim() and \s would also take 0xA0, which in a
 * latin1 view of UTF-8 is a continuation byte (the second byte of "à", for instance): the signature
 * would then cover other bytes than a verifier sees.
 */

const WSP_RUN = /[ \t]+/g;
const EDGE_WSP = /^[ \t]+|[ \t]+$/g;
const FOLD = /\r\n/g;
const WSP_BEFORE_CRLF = /[ \t]+\r\n/g;

const SP = 32;
const HTAB = 9;
const CR = 13;
const LF = 10;

/** One header field as it stands in the message: its lowercased name and its whole text (folds included). */
export interface HeaderField {
  key: string;
  line: string;
}

/** `name:value` per the relaxed header algorithm: name lowercased, value unfolded, whitespace runs made one SP. */
export function relaxedHeader(field: HeaderField): string {
  const colon = field.line.indexOf(":");
  const value = field.line
    .slice(colon + 1)
    .replace(FOLD, "")
    .replace(WSP_RUN, " ")
    .replace(EDGE_WSP, "");
  return `${field.key}:${value}`;
}

/**
 * The body per the relaxed body algorithm: no whitespace at line ends, whitespace runs made one SP,
 * no empty lines at the end. This runs on every message, on the event loop: native scans decide
 * first whether a regular expression has anything to do, and the ones used have no lookahead (one
 * that did cost 60 µs on a 3 KB body).
 */
export function relaxedBody(body: string): string {
  let text = body;
  if (text.includes(" \r\n") || text.includes("\t\r\n")) text = text.replace(WSP_BEFORE_CRLF, "\r\n");
  if (text.includes("\t") || text.includes("  ")) text = text.replace(WSP_RUN, " ");
  let end = text.length;
  for (;;) {
    const last = text.charCodeAt(end - 1);
    if (last === SP || last === HTAB) end -= 1;
    else if (last === LF && text.charCodeAt(end - 2) === CR) end -= 2;
    else break;
  }
  return end === 0 ? "" : `${text.slice(0, end)}\r\n`;
}
/** A message's header fields in order, and its body; the message has CRLF line ends, as composed here. */
export function splitMessage(message: string): { fields: HeaderField[]; body: string } {
  const end = message.startsWith("\r\n") ? 0 : message.indexOf("\r\n\r\n");
  const headerBlock = end < 0 ? message : message.slice(0, end);
  const body = end < 0 ? "" : message.slice(end + (end === 0 ? 2 : 4));
  const fields: HeaderField[] = [];
  for (const line of headerBlock.split(/\r\n(?![ \t])/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.push({ key: line.slice(0, colon).trimEnd().toLowerCase(), line });
  }
  return { fields, body };
}
