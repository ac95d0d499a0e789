import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { KindedError, NotFoundError, UnavailableError } from "../../errors/error-kind.ts";
import type { EventRecorder } from "../../tracking/event-recorder.ts";
import { WebhookAuthError } from "../../tracking/provider-event.ts";
import {
  checkSendGridHeaders,
  parseSendGridEvents,
  SENDGRID_SIGNATURE_HEADER,
  SENDGRID_TIMESTAMP_HEADER,
  verifySendGridSignature,
} from "../../tracking/sendgrid-webhook.ts";
import { parseSesEvent } from "../../tracking/ses-events.ts";
import type { SnsMessage, SnsVerifier } from "../../tracking/sns-verifier.ts";
import { parseJson, type RouteFamily, readBody, sendJson, WEBHOOK_MAX_BODY_BYTES } from "./http-io.ts";

/** Confirming an SNS subscription must not hold a request open on a slow AWS endpoint. */
const CONFIRM_TIMEOUT_MS = 5_000;

export interface WebhookOptions {
  recorder: EventRecorder;
  sendgridPublicKey?: string | undefined;
  /** Verifies SNS messages carrying SES events; absent: /webhooks/ses answers 404. */
  sns?: SnsVerifier | undefined;
  /** SNS topics allowed to post; empty accepts any validly signed topic. */
  sesTopicArns?: readonly string[];
  maxAgeMs: number;
}

export interface WebhookRoutesOptions {
  /** Absent: both webhooks answer 404. */
  webhooks: WebhookOptions | undefined;
  logger: Logger;
}

/** A body that is not a SendGrid event batch is the sender's mistake: 400, not 500. */
function sendGridEvents(rawBody: Buffer): ReturnType<typeof parseSendGridEvents> {
  const body = parseJson(rawBody);
  try {
    return parseSendGridEvents(body);
  } catch (error) {
    throw new KindedError("invalid_argument", (error as Error).message, { code: "not_sendgrid_events" });
  }
}

/**
 * An SNS message is a JSON object; anything else (`null`, an array, a number) is the sender's
 * mistake (400), refused before the verifier reads fields off it.
 */
function snsMessage(rawBody: Buffer): SnsMessage {
  const body = parseJson(rawBody);
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new KindedError("invalid_argument", "an SNS message is a JSON object", { code: "not_sns_message" });
  return body as SnsMessage;
}

/** A verified SNS message that carries no SES event is the sender's mistake: 400, not 500. */
function sesEvents(message: SnsMessage): ReturnType<typeof parseSesEvent> {
  try {
    return parseSesEvent(message.Message, message.MessageId);
  } catch {
    throw new KindedError("invalid_argument", "the SNS message does not carry an SES event", {
      code: "not_ses_event",
    });
  }
}

/** `POST /webhooks/sendgrid` (SendGrid's Event Webhook) and `POST /webhooks/ses` (SES events over SNS). */
export class WebhookRoutes implements RouteFamily {
  readonly #options: WebhookRoutesOptions;

  constructor(options: WebhookRoutesOptions) {
    this.#options = options;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname === "/webhooks/sendgrid" && req.method === "POST") await this.#sendgrid(req, res);
    else if (url.pathname === "/webhooks/ses" && req.method === "POST") await this.#ses(req, res);
    else return false;
    return true;
  }

  async #sendgrid(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const webhooks = this.#options.webhooks;
    if (!webhooks?.sendgridPublicKey) throw new NotFoundError("the SendGrid webhook is not configured");
    const headers = {
      signature: req.headers[SENDGRID_SIGNATURE_HEADER] as string | undefined,
      timestamp: req.headers[SENDGRID_TIMESTAMP_HEADER] as string | undefined,
      maxAgeMs: webhooks.maxAgeMs,
    };
    // Unsigned, malformed or stale: refused before a byte of the body is buffered.
    checkSendGridHeaders(headers);
    const rawBody = await readBody(req, WEBHOOK_MAX_BODY_BYTES);
    verifySendGridSignature({ ...headers, publicKey: webhooks.sendgridPublicKey, rawBody });
    // Parsed only once verified: an unsigned body costs no JSON parsing.
    sendJson(res, 200, await webhooks.recorder.record(sendGridEvents(rawBody)));
  }

  /** Amazon SNS (HTTP subscription) delivering SES events. */
  async #ses(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const webhooks = this.#options.webhooks;
    const sns = webhooks?.sns;
    if (!webhooks || !sns) throw new NotFoundError("the SES webhook is not configured");
    // SNS posts JSON as text/plain. Its signature is inside the body, so the body must be read
    // first: the small cap bounds what an unsigned post can make us buffer and parse.
    const message = snsMessage(await readBody(req, WEBHOOK_MAX_BODY_BYTES));
    await sns.verify(message);
    if (webhooks.sesTopicArns?.length && !webhooks.sesTopicArns.includes(message.TopicArn))
      throw new WebhookAuthError(
        "permission_denied",
        `topic ${message.TopicArn} is not allowed to post here`,
      );
    if (message.Type === "SubscriptionConfirmation") return this.#confirm(sns, message, res);
    if (message.Type !== "Notification") return sendJson(res, 200, { ignored: message.Type });
    sendJson(res, 200, await webhooks.recorder.record(sesEvents(message)));
  }

  /** SNS starts delivering only once the subscription's URL has been fetched. */
  async #confirm(sns: SnsVerifier, message: SnsMessage, res: ServerResponse): Promise<void> {
    const url = sns.checkUrl(message.SubscribeURL, "SubscribeURL");
    const answer = await fetch(url, { signal: AbortSignal.timeout(CONFIRM_TIMEOUT_MS) }).catch(
      (error: unknown) => {
        throw new UnavailableError("confirming the subscription failed", { cause: error });
      },
    );
    // Only the status matters; the body is not read.
    await answer.body?.cancel();
    if (!answer.ok) {
      // SNS sends the confirmation again while we answer it with an error.
      this.#options.logger.warn(
        { topic: message.TopicArn, status: answer.status },
        "SNS subscription not confirmed",
      );
      throw new UnavailableError(`confirming the subscription failed: ${answer.status}`);
    }
    this.#options.logger.info({ topic: message.TopicArn }, "SNS subscription confirmed");
    sendJson(res, 200, { confirmed: true });
  }
}
