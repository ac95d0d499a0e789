import { MAX_LINE } from "./header-field.ts";

/** A body as it goes on the wire: its Content-Transfer-Encoding and the encoded text, CRLF lines. */
export interface EncodedBody {
  encoding: "7bit" | "quoted-printable" | "base64";
  body: string;
}

const SEVEN_BIT = /^[\x20-\x7e\t\r\n]*$/;
/** RFC 2045 §6.7 (5) and §6.8: encoded lines of at most 76 characters. */
const ENCODED_LINE = 76;

/**
 * Whether canonical text (CRLF line ends only) can go as 7bit (RFC 2045 §2.7): printable ASCII and
 * tabs, in lines of at most 998 octets. Native scans only, no copy: this runs on every message.
 */
export function fitsSevenBit(text: string): boolean {
  if (!SEVEN_BIT.test(text)) return false;
  if (text.length <= MAX_LINE) return true;
  let start = 0;
  for (let end = text.indexOf("\r\n"); end >= 0; end = text.indexOf("\r\n", start)) {
    if (end - start > MAX_LINE) return false;
    start = end + 2;
  }
  return text.length - start <= MAX_LINE;
}

/** RFC 2045 §6.8: base64 in lines of 76 characters. */
export function base64Lines(bytes: Buffer): string {
  const base64 = bytes.toString("base64");
  if (base64.length <= ENCODED_LINE) return base64;
  const lines: string[] = [];
  for (let at = 0; at < base64.length; at += ENCODED_LINE) lines.push(base64.slice(at, at + ENCODED_LINE));
  return lines.join("\r\n");
}

const HEX = Buffer.from("0123456789ABCDEF");
const CR = 0x0d;
const LF = 0x0a;
const EQUALS = 0x3d;

/** Bytes quoted-printable may write as they are: printable ASCII but "=", and TAB (escaped at a line's end, as is space). */
const isLiteral = (byte: number) => (byte >= 0x20 && byte <= 0x7e && byte !== EQUALS) || byte === 0x09;

/**
 * Canonical text (CRLF line ends, which stay hard line breaks) as RFC 2045 §6.7 quoted-printable:
 * printable ASCII but "=" as it is, whitespace too unless it ends a line (a relay may strip it
 * there), the rest escaped; soft line breaks keep every line within 76 characters and never split
 * an escape. Written into one buffer: this runs on every long-lined or non-ASCII text.
 */
function quotedPrintable(bytes: Buffer): string {
  // At most 3 characters a byte, and a 3-character soft break every 25 escapes or more.
  const out = Buffer.allocUnsafe(bytes.length * 4 + 8);
  let length = 0;
  let width = 0;
  for (let at = 0; at < bytes.length; at++) {
    const byte = bytes[at] as number;
    if (byte === CR && bytes[at + 1] === LF) {
      out[length++] = CR;
      out[length++] = LF;
      width = 0;
      at++;
      continue;
    }
    const endsLine = at + 1 === bytes.length || (bytes[at + 1] === CR && bytes[at + 2] === LF);
    const literal = isLiteral(byte) && !(endsLine && (byte === 0x20 || byte === 0x09));
    const size = literal ? 1 : 3;
    // The soft break's "=" needs a column of its own, unless this ends the line.
    if (width + size > (endsLine ? ENCODED_LINE : ENCODED_LINE - 1)) {
      out[length++] = EQUALS;
      out[length++] = CR;
      out[length++] = LF;
      width = 0;
    }
    if (literal) out[length++] = byte;
    else {
      out[length++] = EQUALS;
      out[length++] = HEX[byte >> 4] as number;
      out[length++] = HEX[byte & 15] as number;
    }
    width += size;
  }
  return out.toString("latin1", 0, length);
}

/** Bytes quoted-printable writes as escapes (three characters each) in canonical text. */
function escapedBytes(bytes: Buffer): number {
  let count = 0;
  for (let at = 0; at < bytes.length; at++) {
    const byte = bytes[at] as number;
    if (!isLiteral(byte) && byte !== CR && byte !== LF) count++;
  }
  return count;
}

/**
 * Canonical text (CRLF line ends only) encoded for any relay: 7bit when it already fits; else
 * quoted-printable while that is no longer than base64 (mostly ASCII: it stays readable, and
 * filters such as rspamd take base64 of plain ASCII text for an attempt to hide it); base64 for
 * mostly non-ASCII text, where escapes would triple the size.
 */
export function encodeText(text: string): EncodedBody {
  if (fitsSevenBit(text)) return { encoding: "7bit", body: text };
  const bytes = Buffer.from(text, "utf8");
  // Escapes take 3 characters for a byte, base64 4 for 3: quoted-printable is the smaller while at
  // most a sixth of the bytes need escaping.
  return escapedBytes(bytes) * 6 <= bytes.length
    ? { encoding: "quoted-printable", body: quotedPrintable(bytes) }
    : { encoding: "base64", body: base64Lines(bytes) };
}
