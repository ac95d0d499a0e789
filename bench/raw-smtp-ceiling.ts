// What the worker's throughput is measured against: how fast anything could send the bench's mail
// into a sink over the same number of connections. A client with no queue, no rendering and no
// library, pipelining as far as SMTP allows, sending messages composed in advance; its rate is the
// ceiling, and the share of it the worker reaches says how much room is left.
import { randomUUID } from "node:crypto";
import { connect, type Socket } from "node:net";
import Handlebars from "handlebars";
import { composeMessage } from "../internal/provider/mime/compose-message.ts";
import { BENCH_TEMPLATE, templateData } from "./workload.ts";

/** One message and its envelope. */
export interface RawMessage {
  sender: string;
  recipient: string;
  /** The whole RFC 5322 message, CRLF line ends, not yet dot-stuffed. */
  data: string;
}

export interface RawCeilingOptions {
  port: number;
  host?: string;
  messages: number;
  /** Connections sending at once: the worker's SMTP pool size, to compare like with like. */
  connections: number;
  /** The `i`th message (0 ≤ i < messages); called as it is sent, so it should be cheap. */
  message: (i: number) => RawMessage;
}

export interface RawCeilingResult {
  messages: number;
  seconds: number;
  messagesPerSecond: number;
}

/** How long a connection may wait for a reply before the run fails. */
const REPLY_TIMEOUT_MS = 30_000;

/**
 * Sends `messages` messages over `connections` connections, each connection taking the next unsent
 * message as it frees up. Per message: MAIL, RCPT and DATA in one write (RFC 2920); after the 354,
 * the data, its end, and the next message's MAIL, RCPT and DATA in one write. Rejects on the first
 * reply that is not the one expected, naming the command and the reply.
 */
export async function rawSmtpCeiling(options: RawCeilingOptions): Promise<RawCeilingResult> {
  let next = 0;
  const take = () => (next < options.messages ? next++ : undefined);
  const sockets: Socket[] = [];
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: options.connections }, () => {
        const socket = connect(options.port, options.host ?? "127.0.0.1");
        sockets.push(socket);
        return sendOver(new SmtpReplies(socket), take, options.message);
      }),
    );
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    messages: options.messages,
    seconds: Number(seconds.toFixed(3)),
    messagesPerSecond: Math.round(options.messages / seconds),
  };
}

/**
 * The bench's message as the worker composes it (its composer, the bench template rendered with the
 * bench data), composed once: each message differs only in its recipient and its job id (which is
 * in Message-ID and X-Email-Job-Id), so a sink that counts by job id sees distinct messages.
 */
export async function benchMessages(): Promise<(i: number) => RawMessage> {
  const data = templateData(1);
  const render = (source: string, escapeHtml: boolean) =>
    Handlebars.compile(source, { noEscape: !escapeHtml })(data);
  const recipientMark = "recipient-mark@example.org";
  const jobIdMark = randomUUID();
  const sender = "noreply@example.com";
  const composed = await composeMessage(
    {
      job_id: jobIdMark,
      job_type: "welcome_email",
      to: { email: recipientMark },
      subject: render(BENCH_TEMPLATE.subject, false),
      html: render(BENCH_TEMPLATE.html_template, true),
      text: render(BENCH_TEMPLATE.text_template, false),
      headers: {},
      attachments: [],
    },
    { email: sender },
  );
  const pieces = composed
    .toString("utf8")
    .split(jobIdMark)
    .map((piece) => piece.split(recipientMark));
  return (i) => {
    const recipient = `ceiling${i}@example.org`;
    const jobId = randomUUID();
    return { sender, recipient, data: pieces.map((piece) => piece.join(recipient)).join(jobId) };
  };
}

/** One connection's conversation: greeting, EHLO, then messages until none are left, then QUIT. */
async function sendOver(
  replies: SmtpReplies,
  take: () => number | undefined,
  message: (i: number) => RawMessage,
): Promise<void> {
  await replies.expect("connection greeting", 220);
  replies.socket.write("EHLO raw-smtp-ceiling\r\n");
  const ehlo = await replies.expect("EHLO", 250);
  if (!ehlo.slice(1).some((line) => /^pipelining\b/i.test(line.slice(4))))
    throw new Error(`the server does not offer PIPELINING: ${ehlo.join(" | ")}`);
  let current = take();
  if (current === undefined) {
    replies.socket.write("QUIT\r\n");
    await replies.expect("QUIT", 221);
    return;
  }
  let sending: RawMessage | undefined = message(current);
  replies.socket.write(envelope(sending));
  while (sending !== undefined) {
    await replies.expect("MAIL FROM", 250);
    await replies.expect("RCPT TO", 250);
    await replies.expect("DATA", 354);
    const following = take();
    const upcoming = following === undefined ? undefined : message(following);
    // RFC 2920 lets message content start a group of commands: the next envelope rides behind its end.
    replies.socket.write(
      `${dotStuffed(sending.data)}.\r\n${upcoming === undefined ? "QUIT\r\n" : envelope(upcoming)}`,
    );
    await replies.expect(`end of data (message ${current})`, 250);
    current = following;
    sending = upcoming;
  }
  await replies.expect("QUIT", 221);
}

function envelope(message: RawMessage): string {
  return `MAIL FROM:<${message.sender}>\r\nRCPT TO:<${message.recipient}>\r\nDATA\r\n`;
}

/** RFC 5321 §4.5.2: a line starting with a dot gets another; the data then ends with a line end. */
function dotStuffed(data: string): string {
  const stuffed = (data.startsWith(".") ? `.${data}` : data).replaceAll("\r\n.", "\r\n..");
  return stuffed.endsWith("\r\n") ? stuffed : `${stuffed}\r\n`;
}

/** The server's replies on a socket, in order, each as its lines (a multi-line reply has several). */
class SmtpReplies {
  readonly socket: Socket;
  #buffered = "";
  #lines: string[] = [];
  #complete: string[][] = [];
  #waiting: ((reply: string[] | Error) => void) | undefined;
  #failure: Error | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    socket.setTimeout(REPLY_TIMEOUT_MS, () =>
      socket.destroy(new Error(`no reply from the server in ${REPLY_TIMEOUT_MS} ms`)),
    );
    socket.on("data", (chunk: string) => this.#read(chunk));
    socket.on("error", (error) => this.#fail(error));
    socket.on("close", () => this.#fail(new Error("the server closed the connection")));
  }

  /** The next reply; rejects unless its code is `code`, naming `command` and what the server said. */
  async expect(command: string, code: number): Promise<string[]> {
    const reply = await this.#next();
    if (!reply[0]?.startsWith(String(code)))
      throw new Error(`${command}: expected ${code}, got ${JSON.stringify(reply.join("\n"))}`);
    return reply;
  }

  #next(): Promise<string[]> {
    const reply = this.#complete.shift();
    if (reply) return Promise.resolve(reply);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting = (result) => (result instanceof Error ? reject(result) : resolve(result));
    });
  }

  #read(chunk: string): void {
    const lines = (this.#buffered + chunk).split("\r\n");
    this.#buffered = lines.pop() ?? "";
    for (const line of lines) {
      this.#lines.push(line);
      // "250-…" continues a reply; "250 …" (or a bare "250") ends it.
      if (line[3] === "-") continue;
      const reply = this.#lines;
      this.#lines = [];
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(reply);
      else this.#complete.push(reply);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(this.#failure);
  }
}
