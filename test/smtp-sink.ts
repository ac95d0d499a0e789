import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: string;
  /** The account that authenticated, if any. */
  user: string | undefined;
  /** When the message was accepted (epoch ms). */
  received_at: number;
  header(name: string): string | undefined;
}

export interface SmtpSink {
  port: number;
  messages: ReceivedMessage[];
  /** RCPT attempts per recipient, accepted or not. */
  attempts: Map<string, number>;
  close(): Promise<void>;
}

export interface SmtpSinkOptions {
  tls?: { key: string; cert: string };
  /** Accepted credentials; with none, AUTH is not offered. */
  users?: Record<string, string>;
  /** How long the server takes to accept each message (a slow relay). */
  dataDelayMs?: number;
  /** smtp-server settings over the sink's own (hidePIPELINING, authMethods, …). */
  server?: Partial<SMTPServerOptions>;
  /**
   * Given, each message is handed to it instead of kept in `messages`: a sink that receives a
   * million emails keeps only what its caller counts, not every message whole (gigabytes whose
   * garbage collection would stall the sink longer and longer as a run goes on).
   */
  onMessage?: (message: ReceivedMessage) => void;
}

/**
 * A real SMTP server (smtp-server) that accepts mail and records it. The recipient's local part
 * scripts failures: `reject550-*` gets 550, `tempfail<N>-*` gets 451 for its first N attempts,
 * `busy421-*` always gets 421, `flaky<N>-*` gets 452 for its first N attempts, and a message to
 * `hang-*` is never answered after its data (a relay that stalls mid-transaction).
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMessage[] = [];
  const attempts = new Map<string, number>();
  const users = options.users;
  const serverOptions: SMTPServerOptions = {
    secure: false,
    ...(options.tls && { key: options.tls.key, cert: options.tls.cert }),
    disabledCommands: [...(options.tls ? [] : ["STARTTLS"]), ...(users ? [] : ["AUTH"])],
    authOptional: users === undefined,
    authMethods: ["PLAIN", "LOGIN"],
    logger: false,
    size: 30 * 1024 * 1024,
    onAuth(auth, _session, callback) {
      if (users && auth.username && users[auth.username] === auth.password)
        callback(null, { user: auth.username });
      else callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const rcpt = address.address;
      const count = (attempts.get(rcpt) ?? 0) + 1;
      attempts.set(rcpt, count);
      const local = rcpt.split("@")[0] ?? "";
      const fail = (code: number, text: string) =>
        callback(Object.assign(new Error(text), { responseCode: code }));
      if (local.startsWith("reject550")) return fail(550, `5.1.1 <${rcpt}>: Recipient address rejected`);
      if (local.startsWith("busy421")) return fail(421, "4.7.0 Try again later");
      const temp = /^tempfail(\d+)/.exec(local);
      if (temp && count <= Number(temp[1])) return fail(451, "4.3.0 Temporary local problem");
      const flaky = /^flaky(\d+)/.exec(local);
      if (flaky && count <= Number(flaky[1])) return fail(452, "4.5.3 Too many recipients right now");
      callback();
    },
    onData(stream, session, callback) {
      if (session.envelope.rcptTo.some((rcpt) => rcpt.address.startsWith("hang-"))) {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", async () => {
        if (options.dataDelayMs) await new Promise((resolve) => setTimeout(resolve, options.dataDelayMs));
        const raw = Buffer.concat(chunks).toString("utf8");
        const head = raw.split(/\r?\n\r?\n/)[0] ?? "";
        const message: ReceivedMessage = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          user: typeof session.user === "string" ? session.user : undefined,
          received_at: Date.now(),
          header(name) {
            const match = new RegExp(`^${name}:\\s*(.*(?:\\r?\\n[ \\t].*)*)`, "im").exec(head);
            return match?.[1]?.replace(/\r?\n[ \t]+/g, " ").trim();
          },
        };
        if (options.onMessage) options.onMessage(message);
        else messages.push(message);
        callback();
      });
    },
  };
  const server = new SMTPServer({ ...serverOptions, ...options.server });
  // A client killed mid-conversation resets its socket; a real server shrugs that off, and so must
  // the sink (an unhandled 'error' event would end its process).
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** How many times the sink received each job, by its X-Email-Job-Id: a count over 1 is a duplicate. */
export function receiptsByJob(sink: Pick<SmtpSink, "messages">): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of sink.messages) {
    const id = message.header("X-Email-Job-Id") ?? "";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
