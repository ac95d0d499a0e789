import {
  GetAccountCommand,
  type GetAccountCommandOutput,
  SESv2Client,
  SendEmailCommand,
  type SendEmailCommandInput,
} from "@aws-sdk/client-sesv2";
import type { Mailbox } from "../../job/email-job.ts";
import { DeliveryError, isDeliveryError, refuseProviderTemplate } from "../delivery-error.ts";
import type { DkimSigner } from "../dkim/dkim-signer.ts";
import { formatMailbox } from "../mime/address-header.ts";
import { canonicalText, singleLine } from "../mime/line-endings.ts";
import { messageIdFor } from "../mime/mail-options.ts";
import { composeSigned } from "../mime/signed-message.ts";
import type { OutgoingEmail, Provider, SendResult } from "../provider.ts";
import { classifySesError } from "./ses-errors.ts";

interface SesProviderOptions {
  region: string;
  /** Empty: the default AWS credential chain (environment, profile, instance or pod role). */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** Endpoint override (VPC endpoints, the local emulator in tests). */
  endpoint?: string | undefined;
  configurationSet?: string | undefined;
  sender: Mailbox;
  /** The SDK's own attempts per send; the worker retries on top with backoff. */
  maxAttempts?: number;
  /** Signs Raw messages (ours) with the From domain's DKIM keys; Simple ones SES composes and signs itself. */
  dkim?: DkimSigner | undefined;
}

/** One SDK retry covers a dropped connection; anything longer is the worker's backoff to handle. */
const DEFAULT_SDK_ATTEMPTS = 2;

/** Tag values allow letters, digits, _ and - only (SES rejects anything else). */
function tagValue(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 256);
}

/** SES's cap on tags per message; ours use 2 of them, a job's tags at most 10. */
const MAX_SES_TAGS = 50;

/**
 * A job's tags as message tags: tag `t` is `tag_<t>` = `true`, its name in SES's alphabet (`.` and
 * `:` become `_`). Names made equal by that are sent once. A tag as a name, not a value, lets a
 * configuration set's event destination or CloudWatch dimension pick out one tag.
 */
function jobTags(tags: readonly string[] = []): { Name: string; Value: string }[] {
  const names = [...new Set(tags.map((tag) => `tag_${tagValue(tag)}`))];
  return names.slice(0, MAX_SES_TAGS - 2).map((Name) => ({ Name, Value: "true" }));
}

/**
 * Amazon SES through the v2 API: Simple content for text and HTML, Raw (our own MIME) when there are
 * attachments; the job id and type go along as message tags so SES events map back to the job.
 */
export class SesProvider implements Provider {
  readonly name = "ses";
  readonly #client: SESv2Client;
  readonly #options: SesProviderOptions;

  constructor(options: SesProviderOptions) {
    this.#options = options;
    this.#client = new SESv2Client({
      region: options.region,
      maxAttempts: options.maxAttempts ?? DEFAULT_SDK_ATTEMPTS,
      ...(options.endpoint && { endpoint: options.endpoint }),
      ...(options.accessKeyId &&
        options.secretAccessKey && {
          credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
        }),
    });
  }

  /**
   * The Raw message, as sent when there are attachments. A sandbox job gets it either way: Simple
   * content is composed by SES, so this is the nearest thing to it on our side.
   */
  async compose(email: OutgoingEmail): Promise<Buffer> {
    refuseProviderTemplate(email, this.name);
    return composeSigned(email, this.#options.sender, this.#options.dkim);
  }

  async send(email: OutgoingEmail, signal?: AbortSignal): Promise<SendResult> {
    refuseProviderTemplate(email, this.name);
    const from = email.from ?? this.#options.sender;
    const input: SendEmailCommandInput = {
      FromEmailAddress: formatMailbox(from),
      // Raw content too: SES sends to the Destination, and Bcc addresses are in no header.
      Destination: {
        ToAddresses: [formatMailbox(email.to)],
        ...(email.cc?.length && { CcAddresses: email.cc.map(formatMailbox) }),
        ...(email.bcc?.length && { BccAddresses: email.bcc.map(formatMailbox) }),
      },
      ...(email.reply_to && { ReplyToAddresses: [formatMailbox(email.reply_to)] }),
      ...(this.#options.configurationSet && { ConfigurationSetName: this.#options.configurationSet }),
      EmailTags: [
        { Name: "job_id", Value: tagValue(email.job_id) },
        { Name: "job_type", Value: tagValue(email.job_type) },
        ...jobTags(email.tags),
      ],
      Content:
        email.attachments.length > 0
          ? {
              Raw: { Data: await this.compose(email) },
            }
          : {
              Simple: {
                // SES builds this MIME itself: the same canonical text and single-line values as ours.
                Subject: { Data: singleLine(email.subject), Charset: "UTF-8" },
                Body: {
                  Text: { Data: canonicalText(email.text), Charset: "UTF-8" },
                  ...(email.html !== undefined && {
                    Html: { Data: canonicalText(email.html), Charset: "UTF-8" },
                  }),
                },
                Headers: Object.entries({ ...email.headers, "X-Email-Job-Id": email.job_id }).map(
                  ([Name, Value]) => ({ Name, Value: singleLine(Value) }),
                ),
              },
            },
    };
    try {
      const output = await this.#client.send(
        new SendEmailCommand(input),
        signal ? { abortSignal: signal } : {},
      );
      return { provider: this.name, message_id: output.MessageId ?? messageIdFor(email, from) };
    } catch (error) {
      if (isDeliveryError(error)) throw error;
      if (signal?.aborted)
        throw classifySesError(Object.assign(new Error("send aborted"), { name: "AbortError" }));
      throw classifySesError(error);
    }
  }

  /** Credentials, region and account: GetAccount is authenticated and free, and says whether SES may send. */
  async verify(signal: AbortSignal): Promise<string> {
    let account: GetAccountCommandOutput;
    try {
      account = await this.#client.send(new GetAccountCommand({}), { abortSignal: signal });
    } catch (error) {
      throw isDeliveryError(error) ? error : classifySesError(error);
    }
    if (account.SendingEnabled === false)
      throw new DeliveryError(
        "config",
        "ses_sending_paused",
        `sending is paused for this account in ${this.#options.region}`,
      );
    return `${this.#options.region}: sending enabled${account.ProductionAccessEnabled === false ? " (sandbox: verified recipients only)" : ""}`;
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}
