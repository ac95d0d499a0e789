import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { JobValidationError } from "../../job/job-validation-error.ts";
import type { EmailService } from "../../service/email-service.ts";
import type { EventRecorder } from "../../tracking/event-recorder.ts";
import type { LinkEvents } from "../../tracking/link-events.ts";
import type { LinkTokens } from "../../tracking/link-tokens.ts";
import { WebhookAuthError } from "../../tracking/provider-event.ts";
import {
  parseSendGridEvents,
  SENDGRID_SIGNATURE_HEADER,
  SENDGRID_TIMESTAMP_HEADER,
  verifySendGridSignature,
} from "../../tracking/sendgrid-webhook.ts";
import { parseSesEvent } from "../../tracking/ses-events.ts";
import type { SnsMessage, SnsVerifier } from "../../tracking/sns-verifier.ts";
import { type ApiKeyAuth, presentedKey } from "../auth/api-key-auth.ts";
import type { HealthMonitor } from "./health-monitor.ts";

export interface HttpServerOptions {
  port: number;
  host?: string;
  service: EmailService;
  auth: ApiKeyAuth;
  health: HealthMonitor;
  registry: Registry;
  /** Provider event webhooks; a provider without its key configured answers 404. */
  webhooks?: {
    recorder: EventRecorder;
    sendgridPublicKey?: string | undefined;
    /** Verifies SNS messages carrying SES events; absent: /webhooks/ses answers 404. */
    sns?: SnsVerifier | undefined;
    /** SNS topics allowed to post; empty accepts any validly signed topic. */
    sesTopicArns?: readonly string[];
    maxAgeMs: number;
  };
  /** The service's own open/click/unsubscribe links; absent: /t/* answers 404. */
  links?: { tokens: LinkTokens; events: LinkEvents };
  logger: Logger;
}

/** A transparent 1×1 GIF. */
const PIXEL = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

/** Big enough for a job with the largest attachments allowed (10 MiB, base64). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

class HttpError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    super(String(body.error));
    this.status = status;
    this.body = body;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, { error: `request body over ${MAX_BODY_BYTES} bytes` });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, { error: "request body is not JSON" });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  return parseJson(await readBody(req));
}

function violationsBody(error: JobValidationError) {
  return { error: "invalid email job", violations: error.violations };
}

/**
 * The HTTP side of the service: probes (`/livez`, `/readyz`, `/health`), `/metrics`, and the JSON
 * intake. `POST /v1/emails` takes one job (or `{"jobs": [...]}`) in the wire format and answers 202
 * with the job id; `GET /v1/emails/<id>` shows a tracked job and its events. While the service drains,
 * intake answers 503 but the probes stay up, so the orchestrator can watch the drain.
 */
export class HttpServer {
  readonly #options: HttpServerOptions;
  readonly #server: Server;

  constructor(options: HttpServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (error instanceof HttpError) return send(res, error.status, error.body);
        const kind = (error as { kind?: string }).kind;
        if (kind === "unavailable")
          return send(res, 503, { error: "a dependency is unavailable; try again" });
        this.#options.logger.error({ err: error, path: req.url }, "request failed");
        send(res, 500, { error: "internal error" });
      });
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#options.port, this.#options.host ?? "0.0.0.0", resolve);
    });
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET") {
      switch (url.pathname) {
        case "/livez": {
          const live = this.#options.health.live();
          return send(res, live.live ? 200 : 503, live);
        }
        case "/readyz": {
          const { ready, report } = await this.#options.health.ready();
          return send(res, ready ? 200 : 503, report);
        }
        case "/health": {
          const report = await this.#options.health.health();
          return send(res, report.status === "unhealthy" ? 503 : 200, report);
        }
        case "/metrics": {
          const text = await this.#options.registry.metrics();
          res.writeHead(200, { "content-type": this.#options.registry.contentType });
          res.end(text);
          return;
        }
      }
    }
    if (url.pathname === "/webhooks/ses" && req.method === "POST") return this.#sesWebhook(req, res);
    if (url.pathname.startsWith("/t/")) return this.#trackingLink(url.pathname, req, res);
    if (url.pathname === "/webhooks/sendgrid" && req.method === "POST")
      return this.#sendgridWebhook(req, res);
    if (url.pathname === "/v1/emails" || url.pathname.startsWith("/v1/emails/")) {
      if (this.#options.health.draining && req.method === "POST")
        throw new HttpError(503, { error: "shutting down; send to another instance" });
      const caller = this.#options.auth.authenticate(presentedKey(req.headers));
      if (!caller) throw new HttpError(401, { error: "missing or unknown API key" });
      if (!caller.scopes.includes("send")) throw new HttpError(403, { error: "this API key may not send" });
    }
    if (url.pathname === "/v1/emails" && req.method === "POST") return this.#postEmails(req, res);
    const match = /^\/v1\/emails\/([0-9a-fA-F-]{36})$/.exec(url.pathname);
    if (match && req.method === "GET") return this.#getEmail(match[1] as string, res);
    throw new HttpError(404, { error: `no route for ${req.method} ${url.pathname}` });
  }

  async #postEmails(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    const batch = (body as { jobs?: unknown } | null)?.jobs;
    if (Array.isArray(batch)) {
      const results = await this.#options.service.sendBatch(batch);
      return send(res, 207, {
        results: results.map((r) =>
          r.ok
            ? r.result
            : r.error instanceof JobValidationError
              ? violationsBody(r.error)
              : { error: r.error.message },
        ),
      });
    }
    try {
      send(res, 202, await this.#options.service.send(body));
    } catch (error) {
      if (error instanceof JobValidationError) throw new HttpError(400, violationsBody(error));
      throw error;
    }
  }

  async #sendgridWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const webhooks = this.#options.webhooks;
    if (!webhooks?.sendgridPublicKey)
      throw new HttpError(404, { error: "the SendGrid webhook is not configured" });
    const rawBody = await readBody(req);
    try {
      verifySendGridSignature({
        publicKey: webhooks.sendgridPublicKey,
        signature: req.headers[SENDGRID_SIGNATURE_HEADER] as string | undefined,
        timestamp: req.headers[SENDGRID_TIMESTAMP_HEADER] as string | undefined,
        rawBody,
        maxAgeMs: webhooks.maxAgeMs,
      });
    } catch (error) {
      if (error instanceof WebhookAuthError) throw new HttpError(error.status, { error: error.message });
      throw error;
    }
    let events: ReturnType<typeof parseSendGridEvents>;
    try {
      events = parseSendGridEvents(parseJson(rawBody));
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(400, { error: (error as Error).message });
    }
    send(res, 200, await webhooks.recorder.record(events));
  }

  /** /t/o/<token>.gif (open pixel), /t/c/<token> (click redirect), /t/u/<token> (unsubscribe). */
  async #trackingLink(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/t\/([ocu])\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(\.gif)?$/.exec(path);
    const claims = match && this.#options.links?.tokens.verify(match[2] as string);
    // A link the service did not sign does not exist: no redirect to wherever it points.
    if (!match || !claims || claims.k !== match[1]) throw new HttpError(404, { error: "no such link" });
    const events = (this.#options.links as { events: LinkEvents }).events;
    const record = (work: Promise<void>) =>
      work.catch((error: unknown) =>
        this.#options.logger.warn({ err: error }, "tracking event not recorded"),
      );
    if (claims.k === "o" && req.method === "GET") {
      await record(events.open(claims, req.headers["user-agent"]));
      res.writeHead(200, {
        "content-type": "image/gif",
        "cache-control": "no-store",
        "content-length": PIXEL.length,
      });
      res.end(PIXEL);
      return;
    }
    if (claims.k === "c" && req.method === "GET" && claims.u) {
      await record(events.click(claims));
      res.writeHead(302, { location: claims.u, "cache-control": "no-store" });
      res.end();
      return;
    }
    if (claims.k === "u" && req.method === "POST") {
      await events.unsubscribe(claims);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!doctype html><p>You are unsubscribed and will not get these emails any more.</p>");
      return;
    }
    if (claims.k === "u" && req.method === "GET") {
      // RFC 8058: GET must not unsubscribe (link scanners fetch everything); a person confirms.
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        '<!doctype html><form method="post"><p>Stop these emails?</p><button type="submit">Unsubscribe</button></form>',
      );
      return;
    }
    throw new HttpError(404, { error: "no such link" });
  }

  /** Amazon SNS (HTTP subscription) delivering SES events. */
  async #sesWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const webhooks = this.#options.webhooks;
    const sns = webhooks?.sns;
    if (!webhooks || !sns) throw new HttpError(404, { error: "the SES webhook is not configured" });
    // SNS posts JSON as text/plain.
    const message = parseJson(await readBody(req)) as SnsMessage;
    try {
      await sns.verify(message);
      if (webhooks.sesTopicArns?.length && !webhooks.sesTopicArns.includes(message.TopicArn))
        throw new WebhookAuthError(
          "permission_denied",
          `topic ${message.TopicArn} is not allowed to post here`,
        );
      if (message.Type === "SubscriptionConfirmation") {
        const confirm = sns.checkUrl(message.SubscribeURL, "SubscribeURL");
        const answer = await fetch(confirm);
        if (!answer.ok)
          throw new HttpError(502, { error: `confirming the subscription failed: ${answer.status}` });
        this.#options.logger.info({ topic: message.TopicArn }, "SNS subscription confirmed");
        return send(res, 200, { confirmed: true });
      }
    } catch (error) {
      if (error instanceof WebhookAuthError) throw new HttpError(error.status, { error: error.message });
      throw error;
    }
    if (message.Type !== "Notification") return send(res, 200, { ignored: message.Type });
    let events: ReturnType<typeof parseSesEvent>;
    try {
      events = parseSesEvent(message.Message, message.MessageId);
    } catch {
      throw new HttpError(400, { error: "the SNS message does not carry an SES event" });
    }
    send(res, 200, await webhooks.recorder.record(events));
  }

  async #getEmail(id: string, res: ServerResponse): Promise<void> {
    const view = await this.#options.service.getJob(id);
    if (!view) throw new HttpError(404, { error: `no tracked job ${id}` });
    send(res, 200, view);
  }
}
