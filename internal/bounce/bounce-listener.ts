import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { BounceIntake } from "./bounce-intake.ts";
import type { ReturnPath } from "./return-path.ts";

export interface BounceListenerOptions {
  host: string;
  /** 0: a free port, which start() returns. */
  port: number;
  returnPath: ReturnPath;
  intake: Pick<BounceIntake, "accept">;
  /** Advertised as SIZE; a larger message is refused with 552. */
  maxMessageBytes: number;
  /** Sessions at once; one more is told 421 and may come back later. */
  maxConnections?: number;
  /** The name in the greeting and EHLO reply. */
  name?: string;
  logger: Logger;
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * The inbound SMTP server bounces come back to: mail for the return path (and its VERP forms) only,
 * no AUTH and no relaying. A message is answered 250 only once the intake has stored it, so when the
 * database is down the reporting MTA gets 451 and sends it again later.
 */
export class BounceListener {
  readonly #options: BounceListenerOptions;
  readonly #server: SMTPServer;

  constructor(options: BounceListenerOptions) {
    this.#options = options;
    this.#server = new SMTPServer({
      name: options.name ?? hostname(),
      banner: "bounce intake",
      secure: false,
      // Bounces arrive from any MTA, unauthenticated; TLS would protect nothing the DSN does not
      // already tell the sender, and a certificate would be one more thing to run.
      disabledCommands: ["AUTH", "STARTTLS"],
      authOptional: true,
      size: options.maxMessageBytes,
      maxClients: options.maxConnections ?? 100,
      socketTimeout: 60_000,
      closeTimeout: 5_000,
      logger: false,
      onRcptTo: (address, _session, callback) => {
        if (options.returnPath.accepts(address.address)) return callback();
        callback(
          smtpError(550, `5.7.1 <${address.address}>: relay access denied, this server takes bounces only`),
        );
      },
      onData: (stream, session, callback) => {
        this.#receive(stream, session).then(
          () => callback(),
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      },
    });
    // A peer resetting its connection is routine for a public listener; it must not end the process.
    this.#server.on("error", (error) =>
      this.#options.logger.debug({ err: error }, "bounce listener connection error"),
    );
  }

  /** Listens; resolves with the port (the one the OS chose, for port 0). */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.server.once("error", reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.server.off("error", reject);
        resolve();
      });
    });
    return (this.#server.server.address() as AddressInfo).port;
  }

  /** Stops taking connections; sessions still open get until closeTimeout to finish. */
  async stop(): Promise<void> {
    if (!this.#server.server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> {
    const limit = this.#options.maxMessageBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    // Past the limit the rest is read and discarded: smtp-server needs the stream drained to answer.
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    }
    if (stream.sizeExceeded || size > limit)
      throw smtpError(552, `5.3.4 message exceeds the ${limit} bytes this server accepts`);
    try {
      await this.#options.intake.accept({
        raw: Buffer.concat(chunks),
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address || null : null,
        rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
        remoteAddress: session.remoteAddress,
        receivedAt: new Date(),
      });
    } catch (error) {
      this.#options.logger.error({ err: error }, "bounce not stored; the sender will retry");
      throw smtpError(451, "4.3.0 bounce not stored, try again later");
    }
  }
}
