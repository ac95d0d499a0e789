import { hash } from "node:crypto";
import MailComposer from "nodemailer/lib/mail-composer";
import { encodeWords, foldLines, quoteString } from "nodemailer/lib/mime-funcs";
import type { Mailbox } from "../../job/email-job.ts";
import type { OutgoingEmail } from "../provider.ts";
import { mailOptions, messageIdFor } from "./mail-options.ts";

const ASCII = /^[\x20-\x7e\t\r\n]*$/;
const ATOM_SPECIALS = /[()<>[\]:;@\\,."]/;

function formatMailbox(mailbox: Mailbox): string {
  if (!mailbox.name) return mailbox.email;
  const name = ASCII.test(mailbox.name)
    ? ATOM_SPECIALS.test(mailbox.name)
      ? quoteString(mailbox.name)
      : mailbox.name
    : encodeWords(mailbox.name, "Q", 52);
  return `${name} <${mailbox.email}>`;
}

function header(name: string, value: string): string {
  const encoded = ASCII.test(value) ? value : encodeWords(value, "Q", 52);
  const line = `${name}: ${encoded}`;
  return line.length > 78 ? foldLines(line, 76) : line;
}

/** 7bit when the text allows it (readable, no cost); base64 otherwise (native and fast). */
function bodyPart(contentType: string, content: string): string {
  const normalized = content.replace(/\r?\n/g, "\r\n");
  const sevenBit = ASCII.test(normalized) && !normalized.split("\r\n").some((line) => line.length > 998);
  if (sevenBit) {
    return `Content-Type: ${contentType}; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${normalized}`;
  }
  const base64 = Buffer.from(content, "utf8")
    .toString("base64")
    .replace(/.{76}(?=.)/g, "$&\r\n");
  return `Content-Type: ${contentType}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64}`;
}

function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

/**
 * The whole RFC 5322 message for an email. Composing MIME is most of a send's CPU, so the common
 * case — text and HTML, no attachments — is written directly (headers encoded with nodemailer's own
 * RFC 2047 functions); messages with attachments go through nodemailer's MailComposer.
 */
export async function composeMessage(
  email: OutgoingEmail,
  sender: Mailbox,
  now = new Date(),
): Promise<Buffer> {
  if (email.attachments.length > 0) return new MailComposer(mailOptions(email, sender)).compile().build();
  const from = email.from ?? sender;
  const lines = [
    header("From", formatMailbox(from)),
    header("To", formatMailbox(email.to)),
    ...(email.reply_to ? [header("Reply-To", formatMailbox(email.reply_to))] : []),
    header("Subject", email.subject),
    `Message-ID: ${messageIdFor(email, from)}`,
    `Date: ${rfc5322Date(now)}`,
    `X-Email-Job-Id: ${email.job_id}`,
    ...Object.entries(email.headers).map(([name, value]) => header(name, value)),
    "MIME-Version: 1.0",
  ];
  let body: string;
  if (email.html === undefined) {
    body = bodyPart("text/plain", email.text);
  } else {
    // Unique per message, and never a line of the body: derived from the job id.
    const boundary = `=_ew_${hash("sha1", email.job_id, "hex")}`;
    body =
      `Content-Type: multipart/alternative; boundary="${boundary}"\r\n\r\n` +
      `--${boundary}\r\n${bodyPart("text/plain", email.text)}\r\n` +
      `--${boundary}\r\n${bodyPart("text/html", email.html)}\r\n` +
      `--${boundary}--\r\n`;
  }
  return Buffer.from(`${lines.join("\r\n")}\r\n${body}`, "utf8");
}
