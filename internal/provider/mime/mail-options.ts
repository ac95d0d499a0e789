import type { MailComposerOptions } from "nodemailer/lib/mail-composer";
import type { Attachment, Mailbox } from "../../job/email-job.ts";
import type { OutgoingEmail } from "../provider.ts";
import { newBoundary } from "./boundary.ts";
import { headerField } from "./header-field.ts";
import { canonicalBytes, canonicalText } from "./line-endings.ts";

/** The message id a provider should use: stable per job, so a resend is recognisably the same mail. */
export function messageIdFor(email: OutgoingEmail, sender: Mailbox): string {
  const domain = sender.email.split("@")[1] ?? "email-worker.local";
  return `<${email.job_id}@${domain}>`;
}

/** A header field written as the fast path writes it, which nodemailer emits as is. */
function prepared(name: string, value: string): { prepared: true; value: string } {
  return { prepared: true, value: headerField(name, value).slice(name.length + 2) };
}

/**
 * RFC 2046 §5.2.1: a message/* part cannot be base64 encoded, so nodemailer sends it as it is; it is
 * a message, so its line ends are made CRLF like ours. Every other attachment goes as base64.
 */
function attachmentContent(
  attachment: Attachment,
): { content: Buffer } | { content: string; encoding: "base64" } {
  return /^\s*message\//i.test(attachment.content_type ?? "")
    ? { content: canonicalBytes(Buffer.from(attachment.content, "base64")) }
    : { content: attachment.content, encoding: "base64" };
}

/**
 * nodemailer's message options for an email (the composer uses them for messages with attachments),
 * set so that what it builds is canonical: text and HTML with CRLF line ends (which 7bit and
 * quoted-printable keep as they are), CRLF for the structure (`newline`), and a boundary base that no
 * unencoded part contains. The address headers are not among them: composeMessage writes its own.
 */
export function mailOptions(email: OutgoingEmail, sender: Mailbox, date = new Date()): MailComposerOptions {
  const text = canonicalText(email.text);
  const html = email.html === undefined ? undefined : canonicalText(email.html);
  const attachments = email.attachments.map((a) => ({
    filename: a.filename,
    ...attachmentContent(a),
    ...(a.content_type && { contentType: a.content_type }),
  }));
  const unencoded = [
    text,
    html ?? "",
    ...attachments.map((a) => (a.content instanceof Buffer ? a.content.toString("latin1") : "")),
  ];
  const from = email.from ?? sender;
  const headers = { ...email.headers, Subject: email.subject };
  return {
    headers: {
      ...Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, prepared(name, value)])),
      "X-Email-Job-Id": email.job_id,
    },
    text,
    ...(html !== undefined && { html }),
    messageId: messageIdFor(email, from),
    date,
    attachments,
    newline: "\r\n",
    boundaryPrefix: "=_ew",
    baseBoundary: newBoundary(unencoded).slice("=_ew_".length),
  };
}
