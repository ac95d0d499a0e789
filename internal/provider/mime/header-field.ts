import { encodeWord, encodeWords, foldLines } from "nodemailer/lib/mime-funcs";
import { looksEncoded } from "./address-header.ts";
import { singleLine } from "./line-endings.ts";

const PRINTABLE_ASCII = /^[\x20-\x7e\t]*$/;
/** RFC 5322 §2.1.1: no line longer than 998 octets, CRLF excluded. */
export const MAX_LINE = 998;

/**
 * An unstructured header field (Subject, the job's own), whole: RFC 2047 encoded-words where the
 * value is not ASCII, folded at spaces past 78 characters; a value that still leaves a line over
 * 998 octets (one long word) goes as encoded-words of their own, which fold between them. ASCII
 * text holding "=?" is encoded whole, so a subject that looks like an encoded-word is shown as typed
 * rather than decoded by the reader's client.
 */
export function headerField(name: string, value: string): string {
  const flat = singleLine(value);
  const encoded = !PRINTABLE_ASCII.test(flat)
    ? encodeWords(flat, "Q", 52)
    : looksEncoded(flat)
      ? encodeWord(flat, "B", 52)
      : flat;
  const line = `${name}: ${encoded}`;
  if (line.length <= 78) return line;
  const folded = foldLines(line, 76);
  return folded.split("\r\n").some((part) => part.length > MAX_LINE)
    ? foldLines(`${name}: ${encodeWord(flat, "B", 52)}`, 76)
    : folded;
}
