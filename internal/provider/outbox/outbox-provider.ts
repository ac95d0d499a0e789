import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Mailbox } from "../../job/email-job.ts";
import { DeliveryError, refuseProviderTemplate } from "../delivery-error.ts";
import type { DkimSigner } from "../dkim/dkim-signer.ts";
import { messageIdFor } from "../mime/mail-options.ts";
import { composeSigned } from "../mime/signed-message.ts";
import type { OutgoingEmail, Provider, SendResult } from "../provider.ts";

interface OutboxProviderOptions {
  dir: string;
  sender: Mailbox;
  /** Signs each message with the From domain's DKIM keys; absent: unsigned. */
  dkim?: DkimSigner | undefined;
}

/**
 * Writes each message as a real RFC 5322 `.eml` file named after its job: the embedded default, and
 * a way to see exactly what would have been sent. Writing the same job again replaces its file, so
 * the outbox never holds a duplicate.
 */
export class OutboxProvider implements Provider {
  readonly name = "outbox";
  readonly #dir: string;
  readonly #sender: Mailbox;
  readonly #dkim: DkimSigner | undefined;

  constructor(options: OutboxProviderOptions) {
    this.#dir = options.dir;
    this.#sender = options.sender;
    this.#dkim = options.dkim;
  }

  /** The directory exists (or can be made) and this process may write to it. */
  async verify(): Promise<string> {
    try {
      await mkdir(this.#dir, { recursive: true });
      await access(this.#dir, constants.W_OK);
    } catch (error) {
      throw new DeliveryError("config", "outbox_unwritable", `${this.#dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return `writes to ${this.#dir}`;
  }

  async compose(email: OutgoingEmail): Promise<Buffer> {
    refuseProviderTemplate(email, this.name);
    return composeSigned(email, this.#sender, this.#dkim);
  }

  async send(email: OutgoingEmail): Promise<SendResult> {
    refuseProviderTemplate(email, this.name);
    try {
      const message = await this.compose(email);
      await mkdir(this.#dir, { recursive: true });
      const file = join(this.#dir, `${email.job_id}.eml`);
      // Written aside and renamed, so a reader never sees half a message; the aside name is this
      // write's own, so two sends of one job id (a redelivery racing its first delivery) cannot
      // rename each other's file away.
      const partial = `${file}.${randomUUID()}.partial`;
      await writeFile(partial, message);
      await rename(partial, file);
      return { provider: this.name, message_id: messageIdFor(email, email.from ?? this.#sender) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The configured directory is unusable: the operator must fix it, the job is not at fault.
      const kind =
        code && ["EACCES", "EPERM", "EROFS", "ENOTDIR", "EEXIST"].includes(code) ? "config" : "transient";
      throw new DeliveryError(
        kind,
        `outbox_${(code ?? "write_failed").toLowerCase()}`,
        (error as Error).message,
        {
          cause: error,
        },
      );
    }
  }

  async close(): Promise<void> {}
}
