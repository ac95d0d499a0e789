import { connect as connectTcp, isIP, type Socket } from "node:net";
import { hostname } from "node:os";
import {
  checkServerIdentity,
  connect as connectTls,
  type PeerCertificate,
  rootCertificates,
  type TLSSocket,
} from "node:tls";
import { isSocketFailure } from "../network-errors.ts";
import { dataPayload } from "./dot-stuffing.ts";

export interface SmtpConnectionOptions {
  host: string;
  port: number;
  /** TLS from the first byte (port 465). */
  secure: boolean;
  /** Refuse to go on unless STARTTLS upgrades the session. */
  requireTLS: boolean;
  /** Never upgrade, even when the server offers STARTTLS. */
  ignoreTLS: boolean;
  /** Connecting, the greeting, and every reply after that. */
  timeoutMs: number;
  /** CA certificates to trust (PEM), besides the system's. */
  ca?: string[] | undefined;
  /** The name the server's certificate must carry, when not `host` (a relay reached by address). */
  servername?: string | undefined;
  /** The name this client gives in EHLO. */
  name?: string | undefined;
}

export interface SmtpEnvelope {
  from: string;
  to: string[];
  /**
   * A recipient without whom the message must not go (a job's To): when it is refused the
   * transaction is abandoned as if every recipient were, and the others get nothing either.
   */
  mustAccept?: string | undefined;
}

export interface SmtpSendInfo {
  accepted: string[];
  rejected: string[];
  rejectedErrors: SmtpError[];
  response: string;
}

/**
 * A command the server refused (`responseCode` and `response` hold its reply) or a connection that
 * failed. The codes keep nodemailer's names (EENVELOPE, EMESSAGE, EAUTH, ETLS, ECONNECTION, ESOCKET,
 * ...), which classifySmtpError reads.
 */
export class SmtpError extends Error {
  override readonly name = "SmtpError";
  readonly code: string;
  readonly command: string | undefined;
  readonly responseCode: number | undefined;
  readonly response: string | undefined;

  constructor(
    message: string,
    details: { code: string; command?: string | undefined; reply?: Reply | undefined; cause?: unknown },
  ) {
    super(details.reply ? `${message}: ${details.reply.text}` : message, { cause: details.cause });
    this.code = details.code;
    this.command = details.command;
    this.responseCode = details.reply?.code;
    this.response = details.reply?.text;
  }
}

interface Reply {
  code: number;
  /** Every line of the reply, joined by newlines. */
  text: string;
}

/**
 * One SMTP session (RFC 5321) for sending finished messages: EHLO, STARTTLS, AUTH PLAIN/LOGIN,
 * and with PIPELINING (RFC 2920) the envelope and DATA in one write and the message in a second,
 * two round trips a message. Replies are read in order; a command's reply that never comes
 * (timeout, dropped connection) fails every command waiting with a network error.
 */
export class SmtpConnection {
  readonly #options: SmtpConnectionOptions;
  #socket: Socket | TLSSocket;
  #buffer = "";
  #lines: string[] = [];
  readonly #waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void; command: string }[] =
    [];
  #extensions = new Set<string>();
  #authMechanisms = new Set<string>();
  #closed = false;
  #onClose: (() => void) | undefined;

  private constructor(options: SmtpConnectionOptions, socket: Socket | TLSSocket) {
    this.#options = options;
    this.#socket = socket;
    this.#attach(socket);
  }

  /** Connects, reads the greeting, says EHLO and upgrades with STARTTLS as configured. */
  static async open(options: SmtpConnectionOptions): Promise<SmtpConnection> {
    const socket = await openSocket(options);
    const connection = new SmtpConnection(options, socket);
    try {
      const greeting = await connection.#reply("CONN");
      if (greeting.code !== 220) throw connection.#refused("greeting", "CONN", greeting);
      await connection.#hello();
      if (!options.secure && !options.ignoreTLS) {
        if (connection.#extensions.has("STARTTLS")) await connection.#startTls();
        else if (options.requireTLS)
          throw new SmtpError("the server does not offer STARTTLS, which is required", { code: "ETLS" });
      }
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Called once when the connection ends, for whatever reason. */
  onClose(listener: () => void): void {
    this.#onClose = listener;
    if (this.#closed) listener();
  }

  async login(user: string, pass: string): Promise<void> {
    if (this.#authMechanisms.has("PLAIN") || !this.#authMechanisms.has("LOGIN")) {
      const token = Buffer.from(`\0${user}\0${pass}`).toString("base64");
      const reply = await this.#command(`AUTH PLAIN ${token}`, "AUTH PLAIN");
      if (reply.code !== 235) throw this.#refused("authentication failed", "AUTH PLAIN", reply, "EAUTH");
      return;
    }
    const first = await this.#command("AUTH LOGIN", "AUTH LOGIN");
    if (first.code !== 334) throw this.#refused("authentication failed", "AUTH LOGIN", first, "EAUTH");
    const second = await this.#command(Buffer.from(user).toString("base64"), "AUTH LOGIN");
    if (second.code !== 334) throw this.#refused("authentication failed", "AUTH LOGIN", second, "EAUTH");
    const done = await this.#command(Buffer.from(pass).toString("base64"), "AUTH LOGIN");
    if (done.code !== 235) throw this.#refused("authentication failed", "AUTH LOGIN", done, "EAUTH");
  }

  /**
   * Sends one finished message (CRLF line endings) to the envelope's recipients. `onDataSent` is
   * called once the message is written, before its final reply: the session can take the next
   * message's envelope then (RFC 2920 lets MAIL follow the end of data without waiting).
   */
  async send(envelope: SmtpEnvelope, message: Buffer, onDataSent?: () => void): Promise<SmtpSendInfo> {
    const commands = [
      { line: `MAIL FROM:<${envelope.from}>`, name: "MAIL FROM" },
      ...envelope.to.map((to) => ({ line: `RCPT TO:<${to}>`, name: "RCPT TO" })),
      { line: "DATA", name: "DATA" },
    ];
    let replies: Reply[];
    if (this.#extensions.has("PIPELINING")) {
      const pending = commands.map((c) => this.#reply(c.name));
      this.#write(`${commands.map((c) => c.line).join("\r\n")}\r\n`);
      // A server may refuse a recipient with 421 and hang up: that reply, not the hang-up the
      // commands after it see, is the answer.
      const settled = await Promise.allSettled(pending);
      replies = [];
      for (const result of settled) {
        if (result.status === "rejected") break;
        replies.push(result.value);
      }
      const decisive = replies.find((r) => r.code >= 400);
      if (replies.length < commands.length && !decisive)
        throw (settled.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
    } else {
      replies = [];
      for (const c of commands) {
        const reply = await this.#command(c.line, c.name);
        replies.push(reply);
        // Without pipelining, stop at the first refusal that ends the transaction.
        if (c.name === "MAIL FROM" && reply.code >= 300) break;
        if (c.line === `RCPT TO:<${envelope.mustAccept}>` && reply.code >= 300) break;
      }
    }

    const [mail, ...rest] = replies as [Reply, ...Reply[]];
    const data = replies.length === commands.length ? rest.pop() : undefined;
    if (mail === undefined)
      throw new SmtpError("no reply to MAIL FROM", { code: "ECONNECTION", command: "MAIL FROM" });
    if (mail.code >= 300) throw this.#refused("sender refused", "MAIL FROM", mail, "EENVELOPE");
    const accepted: string[] = [];
    const rejected: string[] = [];
    const rejectedErrors: SmtpError[] = [];
    // Recipients whose reply never came (the server hung up) count as not accepted.
    rest.forEach((reply, i) => {
      const to = envelope.to[i] as string;
      if (reply.code < 300) accepted.push(to);
      else {
        rejected.push(to);
        rejectedErrors.push(this.#refused(`recipient ${to} refused`, "RCPT TO", reply, "EENVELOPE"));
      }
    });
    const required = envelope.mustAccept === undefined ? -1 : rejected.indexOf(envelope.mustAccept);
    if (accepted.length === 0 || required >= 0) {
      // A server that still said 354 now waits for a message nobody should get: end the session.
      if (data?.code === 354) this.close();
      throw rejectedErrors[Math.max(required, 0)] ?? new SmtpError("no recipients", { code: "EENVELOPE" });
    }
    if (data === undefined || data.code !== 354)
      throw this.#refused("DATA refused", "DATA", data ?? { code: 503, text: "no DATA reply" }, "EMESSAGE");

    const final = this.#reply("DATA_END");
    // Held until the next turn of the event loop, so the next message's envelope (see onDataSent)
    // leaves in the same write.
    const socket = this.#socket;
    socket.cork();
    for (const chunk of dataPayload(message)) socket.write(chunk);
    setImmediate(() => socket.uncork());
    onDataSent?.();
    const end = await final;
    if (end.code >= 300) throw this.#refused("message refused", "DATA_END", end, "EMESSAGE");
    return { accepted, rejected, rejectedErrors, response: end.text };
  }

  /** Ends a refused transaction so the session can carry the next message. */
  async reset(): Promise<void> {
    const reply = await this.#command("RSET", "RSET");
    if (reply.code >= 300) throw this.#refused("RSET refused", "RSET", reply);
  }

  /** Says goodbye and closes. */
  quit(): void {
    if (this.#closed) return;
    this.#socket.end("QUIT\r\n");
    this.#socket.destroySoon?.();
  }

  close(): void {
    this.#fail(new SmtpError("connection closed", { code: "ECONNECTION" }));
    this.#socket.destroy();
  }

  async #hello(): Promise<void> {
    const name = this.#options.name ?? hostname();
    let reply = await this.#command(`EHLO ${name}`, "EHLO");
    if (reply.code !== 250) {
      reply = await this.#command(`HELO ${name}`, "HELO");
      if (reply.code !== 250) throw this.#refused("HELO refused", "HELO", reply);
    }
    this.#extensions = new Set();
    this.#authMechanisms = new Set();
    for (const line of reply.text.split("\n").slice(1)) {
      const [keyword = "", ...params] = line
        .trim()
        .toUpperCase()
        .split(/[\s=]+/);
      this.#extensions.add(keyword);
      if (keyword === "AUTH") for (const p of params) this.#authMechanisms.add(p);
    }
  }

  async #startTls(): Promise<void> {
    const reply = await this.#command("STARTTLS", "STARTTLS");
    if (reply.code !== 220) throw this.#refused("STARTTLS refused", "STARTTLS", reply, "ETLS");
    const plain = this.#socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    plain.removeAllListeners("timeout");
    this.#socket = await upgrade(plain, this.#options);
    this.#attach(this.#socket);
    await this.#hello();
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.setTimeout(this.#options.timeoutMs);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    socket.on("timeout", () => {
      this.#fail(
        new SmtpError("timed out waiting for the server", { code: "ETIMEDOUT", command: this.#current() }),
      );
      socket.destroy();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.#fail(socketError(error, this.#current()));
    });
    socket.on("close", () => {
      this.#fail(
        new SmtpError("connection closed by the server", { code: "ECONNECTION", command: this.#current() }),
      );
    });
  }

  #current(): string | undefined {
    return this.#waiting[0]?.command;
  }

  #read(chunk: Buffer): void {
    this.#buffer += chunk.toString("utf8");
    let end = this.#buffer.indexOf("\n");
    while (end >= 0) {
      const line = this.#buffer.slice(0, end).replace(/\r$/, "");
      this.#buffer = this.#buffer.slice(end + 1);
      this.#lines.push(line);
      // "250-..." continues a reply; "250 ..." (or a bare code) ends it.
      if (line.length <= 3 || line[3] !== "-") {
        const text = this.#lines.map((l) => l.slice(4)).join("\n");
        this.#lines = [];
        const code = Number.parseInt(line.slice(0, 3), 10);
        const waiter = this.#waiting.shift();
        if (!waiter) {
          // A reply nobody asked for (a 421 before closing, say): the session is over.
          this.#fail(new SmtpError("unexpected reply", { code: "EPROTOCOL", reply: { code, text } }));
          this.#socket.destroy();
          return;
        }
        waiter.resolve({ code: Number.isNaN(code) ? 0 : code, text: `${line.slice(0, 3)} ${text}`.trim() });
      }
      end = this.#buffer.indexOf("\n");
    }
  }

  #reply(command: string): Promise<Reply> {
    if (this.#closed)
      return Promise.reject(new SmtpError("connection closed", { code: "ECONNECTION", command }));
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject, command }));
  }

  #command(line: string, name: string): Promise<Reply> {
    const reply = this.#reply(name);
    this.#write(`${line}\r\n`);
    return reply;
  }

  #write(text: string): void {
    if (!this.#closed) this.#socket.write(text);
  }

  #refused(what: string, command: string, reply: Reply, code = "EPROTOCOL"): SmtpError {
    return new SmtpError(what, { code, command, reply });
  }

  #fail(error: Error): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#onClose?.();
    }
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }
}

/**
 * Node's socket codes pass on by name; anything else (a failed lookup, no route, TLS) is ESOCKET,
 * where classifySmtpError tells a certificate problem from a network one by the message.
 */
function socketError(error: NodeJS.ErrnoException, command: string | undefined): SmtpError {
  const code = error.code && isSocketFailure(error.code) ? error.code : "ESOCKET";
  return new SmtpError(error.message, { code, command, cause: error });
}

/**
 * TLS options for the relay: its name for SNI and the certificate check (SNI carries no IP address,
 * RFC 6066 §3), and extra CAs added to Node's bundled ones rather than replacing them.
 */
function tlsOptions(o: SmtpConnectionOptions) {
  const servername = o.servername || o.host;
  return {
    ...(isIP(servername) === 0 && { servername }),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(servername, cert),
    ...(o.ca && { ca: [...rootCertificates, ...o.ca] }),
  };
}

function openSocket(o: SmtpConnectionOptions): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = o.secure
      ? connectTls({ host: o.host, port: o.port, ...tlsOptions(o) })
      : connectTcp({ host: o.host, port: o.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new SmtpError(`could not connect to ${o.host}:${o.port} in time`, {
          code: "ETIMEDOUT",
          command: "CONN",
        }),
      );
    }, o.timeoutMs);
    socket.once(o.secure ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(socketError(error, "CONN"));
    });
  });
}

/**
 * The TLS handshake after STARTTLS, bounded like every other wait: the plain socket's idle timeout
 * is detached by then, and a relay that said "go ahead" and went quiet would otherwise hold the
 * connection's pool slot for good.
 */
function upgrade(socket: Socket | TLSSocket, o: SmtpConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = connectTls({ socket, ...tlsOptions(o) });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(
        new SmtpError("TLS handshake did not finish in time", { code: "ETIMEDOUT", command: "STARTTLS" }),
      );
    }, o.timeoutMs);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      secure.removeAllListeners("error");
      resolve(secure);
    });
    secure.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(socketError(error, "STARTTLS"));
    });
  });
}
