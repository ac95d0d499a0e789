import { looksEncoded } from "./address-header.ts";

const PLAIN_VALUE = /^[\x20-\x7e]*$/;
/** RFC 2045 §5.1 token: written bare. */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
/** RFC 2231 §7 attribute-char: a token character that needs no percent-encoding. */
const ATTRIBUTE_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;
/** Characters of a percent-encoded section per line, so a folded parameter line stays short. */
const SECTION = 60;

/** Each character of `value` percent-encoded as UTF-8 (RFC 2231 §4), one string per character. */
function percentEncoded(value: string): string[] {
  return Array.from(value, (char) =>
    char.length === 1 && ATTRIBUTE_CHAR.test(char)
      ? char
      : Array.from(
          Buffer.from(char, "utf8"),
          (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`,
        ).join(""),
  );
}

/**
 * Encoded characters packed into sections of at most SECTION characters. A section holds whole
 * characters: readers (Python's email among them) decode each section's bytes on their own, so a
 * character split between two would be read as two broken ones.
 */
function sections(chars: string[]): string[] {
  const out: string[] = [];
  let current = "";
  for (const char of chars) {
    if (current.length + char.length > SECTION && current !== "") {
      out.push(current);
      current = "";
    }
    current += char;
  }
  out.push(current);
  return out;
}

/**
 * A MIME header parameter (`name="…"` in Content-Type, `filename` in Content-Disposition) as
 * `; `-separated items, one per line when the caller folds between them. Printable ASCII goes as a
 * token or quoted-string; anything else, or a value that looks like an RFC 2047 encoded-word, as RFC 2231
 * charset-tagged continuations (`filename*0*=utf-8''…`). RFC 2047 §5 forbids encoded-words inside a
 * quoted-string (Python's email reports a defect, and clients decode one differently), so they are
 * never used here.
 */
export function headerParameter(name: string, value: string): string[] {
  if (PLAIN_VALUE.test(value) && !looksEncoded(value) && value.length <= SECTION)
    return [TOKEN.test(value) ? `${name}=${value}` : `${name}="${value.replace(/["\\]/g, "\\$&")}"`];
  const parts = sections(percentEncoded(value));
  if (parts.length === 1) return [`${name}*=utf-8''${parts[0]}`];
  return parts.map((part, index) => `${name}*${index}*=${index === 0 ? "utf-8''" : ""}${part}`);
}
