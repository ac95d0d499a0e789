import type { Mailbox } from "../../job/email-job.ts";

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** A quoted name this long (twice that escaped) still fits one line of 998 octets with its address. */
const MAX_QUOTED = 255;
/** RFC 2047 §2: an encoded-word is at most 75 characters; "=?UTF-8?B?" and "?=" leave 63, so 45 bytes. */
const WORD_BYTES = 45;

/** Text a decoder could take for the start of an RFC 2047 encoded-word. */
export function looksEncoded(text: string): boolean {
  return text.includes("=?");
}

function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/**
 * `text` as RFC 2047 "B" encoded-words, split between characters. Base64 holds none of the RFC 5322
 * specials, so nothing in the name can be read as an address, a list separator or a quote.
 */
function encodedWords(text: string): string[] {
  const words: string[] = [];
  let start = 0;
  let bytes = 0;
  for (let at = 0; at < text.length; ) {
    const codePoint = text.codePointAt(at) as number;
    const size = utf8Length(codePoint);
    if (bytes + size > WORD_BYTES) {
      words.push(`=?UTF-8?B?${Buffer.from(text.slice(start, at)).toString("base64")}?=`);
      start = at;
      bytes = 0;
    }
    bytes += size;
    at += codePoint > 0xffff ? 2 : 1;
  }
  words.push(`=?UTF-8?B?${Buffer.from(text.slice(start)).toString("base64")}?=`);
  return words;
}

/**
 * A display name as a phrase no parser can misread (RFC 5322 §3.4): printable ASCII as a
 * quoted-string with `"` and `\` escaped; anything else (or a name too long to quote on one line)
 * wholly RFC 2047 encoded (RFC 2047 §5(3) allows encoded-words in a phrase, and a decoded word is
 * never parsed again). A name holding "=?" is encoded too: mail clients decode encoded-words even
 * inside quotes, so a quoted `=?UTF-8?Q?…?=` would be shown as something other than what was sent.
 */
function displayName(name: string): string[] {
  return name.length <= MAX_QUOTED && PRINTABLE_ASCII.test(name) && !looksEncoded(name)
    ? [`"${name.replace(/["\\]/g, "\\$&")}"`]
    : encodedWords(name);
}

/**
 * The value of an address header (From, To, Reply-To) for one mailbox, folded between encoded-words
 * when the field would be longer than 78 characters (RFC 5322 §2.1.1). A quoted name stays on one
 * line: 255 characters escaped, plus a 254-character address, is well within the 998-octet limit.
 */
export function addressValue(field: string, mailbox: Mailbox): string {
  if (!mailbox.name) return mailbox.email;
  const words = displayName(mailbox.name);
  const value = `${words.join(" ")} <${mailbox.email}>`;
  return field.length + 2 + value.length <= 78 ? value : `${words.join("\r\n ")}\r\n <${mailbox.email}>`;
}

/**
 * The value of an address-list header (Cc) for several mailboxes: on one line when it fits in 78
 * characters, else one mailbox per line (each folded as addressValue folds it), so no line comes
 * near the 998-octet limit however many there are.
 */
export function addressListValue(field: string, mailboxes: readonly Mailbox[]): string {
  const values = mailboxes.map((mailbox) => addressValue(field, mailbox));
  const oneLine = values.join(", ");
  return field.length + 2 + oneLine.length <= 78 && !oneLine.includes("\r\n")
    ? oneLine
    : values.join(",\r\n ");
}

/** The same mailbox unfolded, for an API that takes an address string (SES). */
export function formatMailbox(mailbox: Mailbox): string {
  return mailbox.name ? `${displayName(mailbox.name).join(" ")} <${mailbox.email}>` : mailbox.email;
}
