import type { Mailbox } from "../../job/email-job.ts";
import type { OutgoingEmail } from "../provider.ts";

/** The message id a provider should use: stable per job, so a resend is recognisably the same mail. */
export function messageIdFor(email: OutgoingEmail, sender: Mailbox): string {
  const domain = sender.email.split("@")[1] ?? "email-worker.local";
  return `<${email.job_id}@${domain}>`;
}
