const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from("\r\n");
const ANY_LINE_BREAK = /\r\n?|\n/g;

/**
 * RFC 5322 §2.3 and RFC 5321 §2.3.8: CR and LF appear in a message only together, as CRLF. Every
 * line break in `text` (CRLF, a bare CR, a bare LF) becomes CRLF, so no receiver can read a line
 * end into the text that another receiver does not see.
 */
export function canonicalText(text: string): string {
  return text.replace(ANY_LINE_BREAK, "\r\n");
}

/** Whether every CR in `bytes` is followed by LF and every LF preceded by CR (memchr scans, no copy). */
function hasBareLineBreak(bytes: Buffer): boolean {
  for (let at = bytes.indexOf(LF); at >= 0; at = bytes.indexOf(LF, at + 1)) {
    if (at === 0 || bytes[at - 1] !== CR) return true;
  }
  for (let at = bytes.indexOf(CR); at >= 0; at = bytes.indexOf(CR, at + 1)) {
    if (bytes[at + 1] !== LF) return true;
  }
  return false;
}

/** canonicalText for bytes: the same buffer when it is canonical already (the usual case). */
export function canonicalBytes(bytes: Buffer): Buffer {
  if (!hasBareLineBreak(bytes)) return bytes;
  const parts: Buffer[] = [];
  let start = 0;
  for (let at = 0; at < bytes.length; at++) {
    const byte = bytes[at];
    if (byte !== CR && byte !== LF) continue;
    parts.push(bytes.subarray(start, at), CRLF);
    if (byte === CR && bytes[at + 1] === LF) at++;
    start = at + 1;
  }
  parts.push(bytes.subarray(start));
  return Buffer.concat(parts);
}

/**
 * RFC 5322 §2.2: a header field's body holds no CR or LF but for folding, so a line break inside a
 * value (which would start a field of the sender's choosing) is flattened to one space.
 */
export function singleLine(value: string): string {
  return value.includes("\r") || value.includes("\n") ? value.replace(/[ \t]*[\r\n]+[ \t]*/g, " ") : value;
}
