import { encodeWord, encodeWords } from "nodemailer/lib/mime-funcs";
import { looksEncoded } from "./address-header.ts";
import { singleLine } from "./line-endings.ts";

const PRINTABLE_ASCII = /^[\x20-\x7e\t]*$/;
/** RFC 5322 §2.1.1: no line longer than 998 octets, CRLF excluded. */
export const MAX_LINE = 998;
/** RFC 5322 §2.1.1: lines should be at most 78 characters; folding aims at this. */
const FOLD_WIDTH = 76;

/**
 * The field `name: value` folded (RFC 5322 §2.2.3) before single spaces that precede text, greedily within
 * FOLD_WIDTH where it can be. Unfolding only removes the CRLF, but many readers (mailparser among
 * them) turn CRLF and all the whitespace after it into one space: folding before a tab, or before
 * a run of spaces, would change the text they show. A continuation line here starts with exactly
 * one space and then text, which both kinds of reader give back as it was.
 */
function fold(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= FOLD_WIDTH) return line;
  const points: number[] = [];
  // Not at the space after the colon: Python's email then reads the value with a leading space.
  for (let at = line.indexOf(" ", name.length + 2); at >= 0; at = line.indexOf(" ", at + 1)) {
    const next = line[at + 1];
    if (next !== undefined && next !== " " && next !== "\t") points.push(at);
  }
  const lines: string[] = [];
  let start = 0;
  let index = 0;
  while (line.length - start > FOLD_WIDTH) {
    while (index < points.length && (points[index] as number) <= start) index++;
    let cut: number | undefined;
    for (let i = index; i < points.length && (points[i] as number) - start <= FOLD_WIDTH; i++)
      cut = points[i];
    cut ??= points[index];
    if (cut === undefined) break;
    lines.push(line.slice(start, cut));
    start = cut;
  }
  lines.push(line.slice(start));
  return lines.join("\r\n");
}

const longestLine = (folded: string) => Math.max(...folded.split("\r\n").map((line) => line.length));

/**
 * Why `name: value` cannot be written as a header field without a line over 998 octets, if it
 * cannot: printable ASCII (not looking encoded) is folded only at spaces, so a run without one is a
 * line of its own. Other text always fits: it goes as encoded-words, which fold between them.
 * Intake refuses such a value rather than let headerField encode it, which would turn a structured
 * value (a List-Unsubscribe URL) into text its reader no longer parses.
 */
export function unfoldableHeader(name: string, value: string): string | undefined {
  const flat = singleLine(value);
  if (!PRINTABLE_ASCII.test(flat) || looksEncoded(flat)) return undefined;
  const longest = longestLine(fold(name, flat));
  return longest > MAX_LINE
    ? `cannot be folded into lines of at most ${MAX_LINE} octets (a line of ${longest} without a space to fold at)`
    : undefined;
}

/**
 * An unstructured header field (Subject, the job's own), whole: RFC 2047 encoded-words where the
 * value is not ASCII, folded at spaces past 78 characters; a value that still leaves a line over
 * 998 octets (one long word, which intake refuses) goes as encoded-words of their own, which fold
 * between them. Text holding "=?" is encoded whole, so a subject that looks like an encoded-word
 * is shown as typed rather than decoded by the reader's client.
 */
export function headerField(name: string, value: string): string {
  const flat = singleLine(value);
  // encodeWords leaves ASCII words as they are, a lookalike encoded-word among them: text holding
  // one is encoded whole, whatever else it holds.
  const encoded = looksEncoded(flat)
    ? encodeWord(flat, "B", 52)
    : PRINTABLE_ASCII.test(flat)
      ? flat
      : encodeWords(flat, "Q", 52);
  const folded = fold(name, encoded);
  return longestLine(folded) > MAX_LINE ? fold(name, encodeWord(flat, "B", 52)) : folded;
}
