import { canonicalBytes } from "../mime/line-endings.ts";

const DOT = Buffer.from(".");
const CRLF = Buffer.from("\r\n");
const END_OF_DATA = Buffer.from(".\r\n");
const LINE_START_DOT = Buffer.from("\r\n.");

/**
 * What to write after the server's 354 for `message`: the message in canonical form, dot-stuffed, a
 * CRLF if it does not end in one, and the end-of-data line. Chunks, to be written in order, so a
 * canonical message that needs no stuffing (most) goes out without a copy.
 *
 * Servers disagree on what ends a line, and so on what ends the data (some take `<CR>.<CR><LF>` or
 * `<LF>.<LF>`): a bare CR or LF would let text inside the message end it early, and what follows be
 * read as commands (SMTP smuggling). RFC 5321 §2.3.8 allows CR and LF only as CRLF, so every bare
 * one is made CRLF first; then `\r\n.\r\n` occurs exactly once, at the end.
 */
export function dataPayload(message: Buffer): Buffer[] {
  const canonical = canonicalBytes(message);
  const chunks = [stuffDots(canonical)];
  if (!canonical.subarray(-2).equals(CRLF)) chunks.push(CRLF);
  chunks.push(END_OF_DATA);
  return chunks;
}

/**
 * RFC 5321 §4.5.2: a line that starts with a dot gets another, so no line of the message reads as
 * the end of data; the receiver takes it off again. In canonical bytes a line starts at the start
 * and after each CRLF.
 */
function stuffDots(message: Buffer): Buffer {
  if (message[0] !== DOT[0] && !message.includes(LINE_START_DOT)) return message;
  const parts: Buffer[] = message[0] === DOT[0] ? [DOT] : [];
  let start = 0;
  for (let at = message.indexOf(LINE_START_DOT); at >= 0; at = message.indexOf(LINE_START_DOT, start)) {
    parts.push(message.subarray(start, at + 2), DOT);
    start = at + 2;
  }
  parts.push(message.subarray(start));
  return Buffer.concat(parts);
}
