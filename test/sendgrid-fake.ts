import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface SendGridRequest {
  body: {
    from?: { email?: string; name?: string };
    personalizations?: {
      to?: { email?: string; name?: string }[];
      cc?: { email?: string; name?: string }[];
      bcc?: { email?: string; name?: string }[];
      dynamic_template_data?: unknown;
      custom_args?: unknown;
    }[];
    subject?: string;
    content?: { type: string; value: string }[];
    template_id?: string;
    headers?: Record<string, string>;
    categories?: string[];
    custom_args?: Record<string, string>;
    attachments?: { content: string; filename: string; type?: string }[];
    reply_to?: { email: string };
  };
  authorization: string | undefined;
  message_id: string;
}

export interface SendGridFake {
  baseUrl: string;
  accepted: SendGridRequest[];
  /** Every request, accepted or not. */
  requests: number;
  /** What every request gets from now on, whoever the recipient: normal service, or an outage. */
  mode: "normal" | "500" | "429";
  /** The permissions GET /v3/scopes reports for the key. */
  set scopes(scopes: string[]);
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A local server speaking SendGrid's v3 Mail Send: it checks the key and the request's shape as
 * SendGrid does, records what it accepts (202 with x-message-id), and fails on demand by the
 * recipient's local part: `sg400-*` 400, `sg429-*` 429 with rate-limit headers, `sg500-*` 500,
 * `sgslow-*` answers after 3 s. GET /v3/scopes lists the key's permissions: `scopes` (mail.send by
 * default) decides them.
 */
export async function startSendGridFake(apiKey: string): Promise<SendGridFake> {
  const accepted: SendGridRequest[] = [];
  let requests = 0;
  const state = { mode: "normal" as SendGridFake["mode"], scopes: ["mail.send", "user.profile.read"] };
  const server = createServer(async (req, res) => {
    requests++;
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(body === undefined ? "" : JSON.stringify(body));
    };
    const authorization = req.headers.authorization;
    const scopesRequest = req.method === "GET" && req.url === "/v3/scopes";
    if (!scopesRequest && (req.method !== "POST" || req.url !== "/v3/mail/send"))
      return reply(404, { errors: [{ message: "not found" }] });
    if (authorization !== `Bearer ${apiKey}`)
      return reply(401, {
        errors: [{ message: "The provided authorization grant is invalid, expired, or revoked" }],
      });
    if (scopesRequest) return reply(200, { scopes: state.scopes });
    let body: SendGridRequest["body"];
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return reply(400, { errors: [{ message: "Bad Request", field: null }] });
    }
    const errors: { message: string; field: string }[] = [];
    const to = body.personalizations?.[0]?.to?.[0]?.email;
    if (!body.from?.email) errors.push({ message: "The from email is required", field: "from.email" });
    if (!to) errors.push({ message: "The to email is required", field: "personalizations.0.to" });
    if (!body.template_id) {
      if (!body.subject) errors.push({ message: "The subject is required", field: "subject" });
      if (!body.content?.length) errors.push({ message: "Content is required", field: "content" });
      else if (body.content.length > 1 && body.content[0]?.type !== "text/plain")
        errors.push({ message: "text/plain must come first", field: "content.0.type" });
    }
    // SendGrid's own limits: ten categories, and each address once across a personalization.
    if ((body.categories?.length ?? 0) > 10)
      errors.push({ message: "Too many categories", field: "categories" });
    for (const [i, p] of (body.personalizations ?? []).entries()) {
      const emails = [...(p.to ?? []), ...(p.cc ?? []), ...(p.bcc ?? [])].map((m) => m.email?.toLowerCase());
      if (new Set(emails).size !== emails.length)
        errors.push({
          message:
            "Each email address in the personalization block should be unique between to, cc, and bcc.",
          field: `personalizations.${i}`,
        });
    }
    if (errors.length) return reply(400, { errors });
    if (state.mode === "500") return reply(503, { errors: [{ message: "service unavailable" }] });
    if (state.mode === "429")
      return reply(429, { errors: [{ message: "too many requests" }] }, { "retry-after": "2" });
    const local = (to ?? "").split("@")[0] ?? "";
    if (local.startsWith("sg400"))
      return reply(400, { errors: [{ message: `Invalid recipient ${to}`, field: "personalizations.0.to" }] });
    if (local.startsWith("sg429"))
      return reply(
        429,
        { errors: [{ message: "too many requests" }] },
        {
          "x-ratelimit-limit": "600",
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 30),
        },
      );
    if (local.startsWith("sg500")) return reply(500, { errors: [{ message: "internal error" }] });
    if (local.startsWith("sgslow")) await new Promise((resolve) => setTimeout(resolve, 3_000));
    const message_id = randomUUID().replaceAll("-", "").slice(0, 22);
    accepted.push({ body, authorization, message_id });
    reply(202, undefined, { "x-message-id": message_id });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted,
    get requests() {
      return requests;
    },
    get mode() {
      return state.mode;
    },
    set mode(mode) {
      state.mode = mode;
    },
    set scopes(scopes: string[]) {
      state.scopes = scopes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
