import type { Mailbox } from "../../job/email-job.ts";
import { type DkimSigner, signedWith } from "../dkim/dkim-signer.ts";
import type { OutgoingEmail } from "../provider.ts";
import { composeMessage } from "./compose-message.ts";

/**
 * The raw message as the providers that hand over MIME (SMTP, SES Raw, the outbox) send it:
 * composed, then signed for its From domain when there is a signer.
 */
export async function composeSigned(
  email: OutgoingEmail,
  sender: Mailbox,
  signer: DkimSigner | undefined,
): Promise<Buffer> {
  return signedWith(signer, await composeMessage(email, sender), (email.from ?? sender).email);
}
