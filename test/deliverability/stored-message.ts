/** The fields Postfix's delivery prepends: they record the trip, and are not part of what was sent. */
const TRACE = /^(?:Return-Path|X-Original-To|Delivered-To|Received):/i;

export interface StoredMessage {
  /** The trace fields, unfolded lines joined by CRLF. */
  trace: string[];
  /** The rest, with the CRLF line ends of the wire restored: what the client sent. */
  message: Buffer;
  /** Whether the file held any CR: Postfix stores lines with LF only, so a CR was a bare one. */
  heldCr: boolean;
}

/**
 * A message as a Postfix Maildir holds it (LF line ends, trace fields first), in wire form. The LF
 * to CRLF step is exact only for a message with no CR of its own, which `heldCr` reports.
 */
export function readStored(stored: Buffer): StoredMessage {
  const lines = stored.toString("latin1").split("\n");
  const trace: string[] = [];
  let at = 0;
  while (at < lines.length && TRACE.test(lines[at] ?? "")) {
    const field = [lines[at]];
    for (at++; at < lines.length && /^[ \t]/.test(lines[at] ?? ""); at++) field.push(lines[at]);
    trace.push(field.join("\r\n"));
  }
  return {
    trace,
    message: Buffer.from(lines.slice(at).join("\r\n"), "latin1"),
    heldCr: stored.includes(0x0d),
  };
}

/** RFC 5321 §4.5.2 undone: a DATA section as the client wrote it, back to the message it carried. */
export function unstuffed(data: Buffer): Buffer {
  return Buffer.from(`${data.toString("latin1").replace(/(^|\r\n)\./g, "$1")}\r\n`, "latin1");
}
