const DOT = Buffer.from(".");
const CRLF = Buffer.from("\r\n");
const END_OF_DATA = Buffer.from(".\r\n");

/**
 * What to write after the server's 354 for `message` (CRLF line endings): the message dot-stuffed,
 * a CRLF if it does not end in one, and the end-of-data line. Chunks, to be written in order, so a
 * message that needs no stuffing (most) goes out without a copy.
 */
export function dataPayload(message: Buffer): Buffer[] {
  const chunks = [stuffDots(message)];
  if (!message.subarray(-2).equals(CRLF)) chunks.push(CRLF);
  chunks.push(END_OF_DATA);
  return chunks;
}

/**
 * RFC 5321 §4.5.2: a line that starts with a dot gets another, so no line of the message reads as
 * the end of data; the receiver takes it off again. A line starts after any LF, CRLF or not.
 */
function stuffDots(message: Buffer): Buffer {
  if (message[0] !== DOT[0] && !message.includes("\n.")) return message;
  const parts: Buffer[] = message[0] === DOT[0] ? [DOT] : [];
  let start = 0;
  for (let at = message.indexOf("\n.", start); at >= 0; at = message.indexOf("\n.", start)) {
    parts.push(message.subarray(start, at + 1), DOT);
    start = at + 1;
  }
  parts.push(message.subarray(start));
  return Buffer.concat(parts);
}
