import type { Mailbox } from "../../job/email-job.ts";
import type { OutgoingEmail } from "../provider.ts";
import { addressListValue, addressValue } from "./address-header.ts";
import { attachmentPart, type MimePart } from "./attachment-part.ts";
import { encodeText } from "./body-encoding.ts";
import { newBoundary } from "./boundary.ts";
import { headerField } from "./header-field.ts";
import { canonicalText } from "./line-endings.ts";
import { messageIdFor } from "./mail-options.ts";

/** A text part, line ends made CRLF first, in the transfer encoding its content needs (encodeText). */
function textPart(contentType: string, content: string): MimePart {
  const { encoding, body } = encodeText(canonicalText(content));
  return {
    header: `Content-Type: ${contentType}; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}`,
    body,
  };
}

/**
 * A multipart body (RFC 2046 §5.1.1) as a part of its own, with a boundary that occurs in none of
 * the parts' bodies (newBoundary draws another when one does).
 */
function multipart(subtype: "alternative" | "mixed", parts: MimePart[]): MimePart {
  const boundary = newBoundary(parts.map((part) => part.body));
  const inner = parts.map((part) => `--${boundary}\r\n${part.header}\r\n\r\n${part.body}\r\n`).join("");
  return {
    header: `Content-Type: multipart/${subtype};\r\n boundary="${boundary}"`,
    body: `${inner}--${boundary}--\r\n`,
  };
}

function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

/**
 * From, To, Cc and Reply-To (see addressValue). Never Bcc: its recipients are in the envelope only,
 * and a Bcc header would show them to every recipient (or, stripped by a relay, to none, unreliably).
 */
function addressHeaders(email: OutgoingEmail, sender: Mailbox): string[] {
  const lines = [
    `From: ${addressValue("From", email.from ?? sender)}`,
    `To: ${addressValue("To", email.to)}`,
  ];
  if (email.cc !== undefined && email.cc.length > 0) lines.push(`Cc: ${addressListValue("Cc", email.cc)}`);
  if (email.reply_to) lines.push(`Reply-To: ${addressValue("Reply-To", email.reply_to)}`);
  return lines;
}

/** The message's content: text alone, text and HTML as alternatives, then any attachments after it. */
function contentPart(email: OutgoingEmail): MimePart {
  const plain = textPart("text/plain", email.text);
  const body =
    email.html === undefined ? plain : multipart("alternative", [plain, textPart("text/html", email.html)]);
  return email.attachments.length === 0
    ? body
    : multipart("mixed", [body, ...email.attachments.map(attachmentPart)]);
}

/**
 * The whole RFC 5322 message for an email, in canonical form, one way for every message (SMTP,
 * the outbox and SES raw all send these bytes): CRLF line ends only, no line over 998 octets,
 * nothing but ASCII (header text as RFC 2047 encoded-words, file names as RFC 2231 parameters,
 * bodies 7bit, quoted-printable or base64), so any relay carries it unchanged.
 */
export async function composeMessage(
  email: OutgoingEmail,
  sender: Mailbox,
  now = new Date(),
): Promise<Buffer> {
  const from = email.from ?? sender;
  const content = contentPart(email);
  const lines = [
    ...addressHeaders(email, sender),
    headerField("Subject", email.subject),
    `Message-ID: ${messageIdFor(email, from)}`,
    `Date: ${rfc5322Date(now)}`,
    `X-Email-Job-Id: ${email.job_id}`,
    ...Object.entries(email.headers).map(([name, value]) => headerField(name, value)),
    "MIME-Version: 1.0",
    content.header,
  ];
  // SMTP ends every message with a line end (RFC 5321 §4.1.1.4), so the message carries its own:
  // these bytes are then exactly what a relay receives and stores.
  const end = content.body.endsWith("\r\n") ? "" : "\r\n";
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${content.body}${end}`, "utf8");
}
