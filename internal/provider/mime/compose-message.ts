import MailComposer from "nodemailer/lib/mail-composer";
import type { Mailbox } from "../../job/email-job.ts";
import type { OutgoingEmail } from "../provider.ts";
import { addressValue } from "./address-header.ts";
import { newBoundary } from "./boundary.ts";
import { headerField, MAX_LINE } from "./header-field.ts";
import { canonicalBytes, canonicalText } from "./line-endings.ts";
import { mailOptions, messageIdFor } from "./mail-options.ts";

const SEVEN_BIT = /^[\x20-\x7e\t\r\n]*$/;

/**
 * Whether canonical text (CRLF line ends only) can go as 7bit (RFC 2045 §2.7): printable ASCII and
 * tabs, in lines of at most 998 octets. Native scans only, no copy: this runs on every message.
 */
function fitsSevenBit(text: string): boolean {
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
function base64Lines(text: string): string {
  const base64 = Buffer.from(text, "utf8").toString("base64");
  if (base64.length <= 76) return base64;
  const lines: string[] = [];
  for (let at = 0; at < base64.length; at += 76) lines.push(base64.slice(at, at + 76));
  return lines.join("\r\n");
}

/** A text part's header and encoded body, line ends made CRLF first: 7bit when the text allows it, base64 otherwise. */
function bodyPart(contentType: string, content: string): { header: string; body: string } {
  const text = canonicalText(content);
  return fitsSevenBit(text)
    ? { header: `Content-Type: ${contentType}; charset=utf-8\r\nContent-Transfer-Encoding: 7bit`, body: text }
    : {
        header: `Content-Type: ${contentType}; charset=utf-8\r\nContent-Transfer-Encoding: base64`,
        body: base64Lines(text),
      };
}

function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

function singlePart(text: string): string {
  const plain = bodyPart("text/plain", text);
  return `${plain.header}\r\n\r\n${plain.body}`;
}

function alternativeBody(text: string, html: string): string {
  const plain = bodyPart("text/plain", text);
  const rich = bodyPart("text/html", html);
  const boundary = newBoundary([plain.body, rich.body]);
  return (
    `Content-Type: multipart/alternative;\r\n boundary="${boundary}"\r\n\r\n` +
    `--${boundary}\r\n${plain.header}\r\n\r\n${plain.body}\r\n` +
    `--${boundary}\r\n${rich.header}\r\n\r\n${rich.body}\r\n--${boundary}--\r\n`
  );
}

/** Messages with attachments: nodemailer's composer, on canonical input; see mailOptions. */
async function composeWithAttachments(email: OutgoingEmail, sender: Mailbox, now: Date): Promise<Buffer> {
  const built = await new MailComposer(mailOptions(email, sender, now)).compile().build();
  // Header order carries no meaning (RFC 5322 §3.6), so our address headers simply go first.
  // Defence in depth: the options already make every line end CRLF, and base64 holds no CR or LF.
  return canonicalBytes(
    Buffer.concat([Buffer.from(`${addressHeaders(email, sender).join("\r\n")}\r\n`), built]),
  );
}

/** From, To and Reply-To, written by us on both paths (see addressValue). */
function addressHeaders(email: OutgoingEmail, sender: Mailbox): string[] {
  const from = `From: ${addressValue("From", email.from ?? sender)}`;
  const to = `To: ${addressValue("To", email.to)}`;
  return email.reply_to ? [from, to, `Reply-To: ${addressValue("Reply-To", email.reply_to)}`] : [from, to];
}

/**
 * The whole RFC 5322 message for an email, in canonical form: CRLF line ends only, no line over 998
 * octets. Composing MIME is most of a send's CPU, so the common case (text and HTML, no
 * attachments) is written directly; messages with attachments go through nodemailer's MailComposer.
 */
export async function composeMessage(
  email: OutgoingEmail,
  sender: Mailbox,
  now = new Date(),
): Promise<Buffer> {
  if (email.attachments.length > 0) return composeWithAttachments(email, sender, now);
  const from = email.from ?? sender;
  const lines = [
    ...addressHeaders(email, sender),
    headerField("Subject", email.subject),
    `Message-ID: ${messageIdFor(email, from)}`,
    `Date: ${rfc5322Date(now)}`,
    `X-Email-Job-Id: ${email.job_id}`,
    ...Object.entries(email.headers).map(([name, value]) => headerField(name, value)),
    "MIME-Version: 1.0",
  ];
  const body = email.html === undefined ? singlePart(email.text) : alternativeBody(email.text, email.html);
  return Buffer.from(`${lines.join("\r\n")}\r\n${body}`, "utf8");
}
