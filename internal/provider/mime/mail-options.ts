import type { MailComposerOptions } from "nodemailer/lib/mail-composer";
import type { Mailbox } from "../../job/email-job.ts";
import type { OutgoingEmail } from "../provider.ts";

function formatMailbox(mailbox: Mailbox): { name: string; address: string } | string {
  return mailbox.name ? { name: mailbox.name, address: mailbox.email } : mailbox.email;
}

/** The message id a provider should use: stable per job, so a resend is recognisably the same mail. */
export function messageIdFor(email: OutgoingEmail, sender: Mailbox): string {
  const domain = sender.email.split("@")[1] ?? "email-worker.local";
  return `<${email.job_id}@${domain}>`;
}

/** nodemailer's message options for an email (the composer uses them for messages with attachments). */
export function mailOptions(email: OutgoingEmail, sender: Mailbox): MailComposerOptions {
  return {
    from: formatMailbox(email.from ?? sender),
    to: formatMailbox(email.to),
    ...(email.reply_to && { replyTo: formatMailbox(email.reply_to) }),
    subject: email.subject,
    text: email.text,
    ...(email.html !== undefined && { html: email.html }),
    headers: { ...email.headers, "X-Email-Job-Id": email.job_id },
    messageId: messageIdFor(email, email.from ?? sender),
    attachments: email.attachments.map((a) => ({
      filename: a.filename,
      content: a.content,
      encoding: "base64",
      ...(a.content_type && { contentType: a.content_type }),
    })),
  };
}
