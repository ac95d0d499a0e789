import sendgridClient from "@sendgrid/client";
import sendgridMail from "@sendgrid/mail";
import type { Mailbox } from "../../job/email-job.ts";
import { abortable } from "../abortable.ts";
import { DeliveryError, isDeliveryError } from "../delivery-error.ts";
import { canonicalText, singleLine } from "../mime/line-endings.ts";
import { messageIdFor } from "../mime/mail-options.ts";
import type { OutgoingEmail, Provider, SendResult } from "../provider.ts";
import { classifySendGridError } from "./sendgrid-errors.ts";

interface SendGridProviderOptions {
  apiKey: string;
  /** https://api.sendgrid.com, or a proxy / EU endpoint / test server. */
  baseUrl: string;
  timeoutMs: number;
  sender: Mailbox;
}

/**
 * The part of @sendgrid/mail and @sendgrid/client this adapter uses. Their typings describe the
 * shared default instances, not the classes the modules also export; a private client needs those.
 */
interface SendGridClient {
  setApiKey(apiKey: string): void;
  setDefaultRequest(key: string, value: unknown): unknown;
  request(request: {
    method: string;
    url: string;
  }): Promise<[{ statusCode: number; body: unknown }, unknown]>;
}
interface SendGridMailService {
  setClient(client: SendGridClient): void;
  send(data: object): Promise<[{ statusCode: number; headers: Record<string, unknown> }, unknown]>;
}
const { Client } = sendgridClient as unknown as { Client: new () => SendGridClient };
const { MailService } = sendgridMail as unknown as { MailService: new () => SendGridMailService };

function address(mailbox: Mailbox): { email: string; name?: string } {
  return mailbox.name ? { email: mailbox.email, name: mailbox.name } : { email: mailbox.email };
}

/** SendGrid's cap on categories per message. */
const MAX_CATEGORIES = 10;

/**
 * The job type, then the job's tags, at most SendGrid's ten: with ten tags the job type gives way
 * (it still travels in custom_args), as the tags are what the client chose to see in its stats.
 */
function categories(email: OutgoingEmail): string[] {
  const tags = email.tags ?? [];
  const all = [...new Set([email.job_type, ...tags])];
  return all.length <= MAX_CATEGORIES ? all : tags.slice(0, MAX_CATEGORIES);
}

function singleLineValues(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, singleLine(value)]));
}

/**
 * SendGrid's v3 Mail Send through @sendgrid/mail, on a client of its own (the package's default
 * client is shared process-wide). The job id travels in custom_args so webhook events map back, and
 * the job type and the job's tags as categories.
 */
export class SendGridProvider implements Provider {
  readonly name = "sendgrid";
  readonly #mail: SendGridMailService;
  readonly #client: SendGridClient;
  readonly #sender: Mailbox;

  constructor(options: SendGridProviderOptions) {
    const client = new Client();
    // The API key first: setting it resets the base URL.
    client.setApiKey(options.apiKey);
    client.setDefaultRequest("baseUrl", options.baseUrl);
    client.setDefaultRequest("timeout", options.timeoutMs);
    this.#client = client;
    this.#mail = new MailService();
    this.#mail.setClient(client);
    this.#sender = options.sender;
  }

  /** SendGrid composes the MIME itself: what this provider hands over is the request, as JSON. */
  async compose(email: OutgoingEmail): Promise<Buffer> {
    return Buffer.from(JSON.stringify(this.#message(email)));
  }

  async send(email: OutgoingEmail, signal?: AbortSignal): Promise<SendResult> {
    const from = email.from ?? this.#sender;
    const message = this.#message(email);
    try {
      const [response] = await abortable(this.#mail.send(message), signal);
      // x-message-id identifies the message in SendGrid's events and activity feed.
      const id = response.headers["x-message-id"];
      return {
        provider: this.name,
        message_id: typeof id === "string" && id ? id : messageIdFor(email, from),
      };
    } catch (error) {
      if (isDeliveryError(error)) throw error;
      throw classifySendGridError(error);
    }
  }

  #message(email: OutgoingEmail): object {
    const from = email.from ?? this.#sender;
    return {
      from: address(from),
      // One personalization: @sendgrid/mail puts to, cc and bcc in it together.
      to: address(email.to),
      ...(email.cc?.length && { cc: email.cc.map(address) }),
      ...(email.bcc?.length && { bcc: email.bcc.map(address) }),
      ...(email.reply_to && { replyTo: address(email.reply_to) }),
      // SendGrid writes the MIME from this JSON: header values stay on one line, text ends lines in CRLF.
      headers: { ...singleLineValues(email.headers), "Message-ID": messageIdFor(email, from) },
      categories: categories(email),
      customArgs: { job_id: email.job_id, job_type: email.job_type },
      ...(email.attachments.length > 0 && {
        attachments: email.attachments.map((a) => ({
          content: a.content,
          filename: a.filename,
          ...(a.content_type && { type: a.content_type }),
          disposition: "attachment",
        })),
      }),
      ...(email.provider_template
        ? {
            templateId: email.provider_template.id,
            dynamicTemplateData: email.provider_template.data,
            ...(email.subject && { subject: singleLine(email.subject) }),
          }
        : {
            subject: singleLine(email.subject),
            // text/plain before text/html, as SendGrid requires.
            content: [
              { type: "text/plain", value: canonicalText(email.text) || " " },
              ...(email.html !== undefined ? [{ type: "text/html", value: canonicalText(email.html) }] : []),
            ],
          }),
    };
  }

  /** The key works and may send: GET /v3/scopes lists what it is allowed, mail.send among them. */
  async verify(signal: AbortSignal): Promise<string> {
    let scopes: unknown;
    try {
      const [response] = await abortable(this.#client.request({ method: "GET", url: "/v3/scopes" }), signal);
      scopes = (response.body as { scopes?: unknown } | undefined)?.scopes;
    } catch (error) {
      throw isDeliveryError(error) ? error : classifySendGridError(error);
    }
    if (!Array.isArray(scopes) || !scopes.includes("mail.send"))
      throw new DeliveryError("config", "sendgrid_scope", "the API key lacks the mail.send permission");
    return "API key valid, with mail.send";
  }

  async close(): Promise<void> {}
}
