import SMTPConnection, {
  type SMTPConnectionOptions,
  type SMTPConnectionSendInfo,
} from "nodemailer/lib/smtp-connection";

export interface SmtpPoolOptions {
  connection: SMTPConnectionOptions;
  auth?: { user: string; pass: string } | undefined;
  /** Connections kept open at most. */
  size: number;
}

interface PooledConnection {
  smtp: SMTPConnection;
  /** Messages sent over it: a reused connection may have been closed by the server meanwhile. */
  sent: number;
  closed: boolean;
}

const NETWORK_CODES = new Set(["ECONNECTION", "ESOCKET", "ETIMEDOUT", "ECONNRESET", "EPIPE"]);

/**
 * A pool of open SMTP connections (nodemailer's SMTPConnection) that sends finished MIME: no
 * per-message composition or stream plumbing, which is most of what nodemailer's transport costs.
 * A connection the server dropped while idle is replaced and the message goes over a new one; a
 * refused message leaves its connection usable after RSET.
 */
export class SmtpPool {
  readonly #o: SmtpPoolOptions;
  readonly #idle: PooledConnection[] = [];
  readonly #all = new Set<PooledConnection>();
  /** Sends waiting for a connection; they get one, or the error that prevented opening one. */
  readonly #waiting: Array<(connection: PooledConnection | Error) => void> = [];
  #opening = 0;
  #closed = false;

  constructor(options: SmtpPoolOptions) {
    this.#o = options;
  }

  async send(envelope: { from: string; to: string[] }, message: Buffer): Promise<SMTPConnectionSendInfo> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.#acquire();
      try {
        const info = await transmit(connection.smtp, envelope, message);

        connection.sent++;
        this.#release(connection);
        return info;
      } catch (error) {
        const e = error as { code?: string; responseCode?: number; command?: string };
        const refused = (e.code === "EENVELOPE" || e.code === "EMESSAGE") && e.responseCode !== 421;
        if (refused && !connection.closed) {
          // The server refused this message; the session is fine once reset.
          connection.smtp.reset((resetError) =>
            resetError ? this.#discard(connection) : this.#release(connection),
          );
          throw error;
        }
        this.#discard(connection);
        // Dropped while idle, before any of this message went out: try once more on a new connection.
        const beforeData = e.command !== "DATA" && e.command !== "DATA_END";
        if (connection.sent > 0 && attempt === 0 && beforeData && NETWORK_CODES.has(e.code ?? "")) continue;
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of this.#waiting.splice(0)) wake(closedError());
    for (const connection of this.#all) connection.smtp.quit();
    this.#all.clear();
    this.#idle.length = 0;
  }

  async #acquire(): Promise<PooledConnection> {
    if (this.#closed) throw closedError();
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#all.size + this.#opening < this.#o.size) return this.#open();
    const connection = await new Promise<PooledConnection | Error>((resolve) => this.#waiting.push(resolve));
    if (connection instanceof Error) throw connection;
    return connection;
  }

  #release(connection: PooledConnection): void {
    if (connection.closed || this.#closed) {
      this.#discard(connection);
      return;
    }
    const waiter = this.#waiting.shift();
    if (waiter) waiter(connection);
    else this.#idle.push(connection);
  }

  #discard(connection: PooledConnection): void {
    connection.closed = true;
    this.#all.delete(connection);
    const index = this.#idle.indexOf(connection);
    if (index >= 0) this.#idle.splice(index, 1);
    connection.smtp.close();
    // A waiter gets a fresh connection in place of the one that went away.
    const waiter = this.#waiting.shift();
    if (waiter)
      this.#open().then(waiter, (error: unknown) => waiter(error instanceof Error ? error : closedError()));
  }

  async #open(): Promise<PooledConnection> {
    this.#opening++;
    const smtp = new SMTPConnection(this.#o.connection);
    const connection: PooledConnection = { smtp, sent: 0, closed: false };
    smtp.on("error", () => {
      connection.closed = true;
    });
    smtp.on("end", () => {
      connection.closed = true;
      this.#all.delete(connection);
      const index = this.#idle.indexOf(connection);
      if (index >= 0) this.#idle.splice(index, 1);
    });
    try {
      // Connection failures arrive as 'error' events, not through connect's callback.
      await new Promise<void>((resolve, reject) => {
        smtp.once("error", reject);
        smtp.connect(() => {
          smtp.removeListener("error", reject);
          resolve();
        });
      });
      if (this.#o.auth) {
        const auth = this.#o.auth;
        await new Promise<void>((resolve, reject) => {
          smtp.once("error", reject);
          smtp.login(auth, (error) => {
            smtp.removeListener("error", reject);
            if (error) reject(error);
            else resolve();
          });
        });
      }
    } catch (error) {
      smtp.close();
      throw error;
    } finally {
      this.#opening--;
    }
    this.#all.add(connection);
    return connection;
  }
}

function closedError(): Error {
  return Object.assign(new Error("SMTP pool is closed"), { code: "ECONNECTION" });
}

/**
 * One message over one connection. A socket failure mid-transaction is reported as an 'error' or
 * 'end' event rather than through send's callback, so both settle the promise too.
 */
function transmit(
  smtp: SMTPConnection,
  envelope: { from: string; to: string[] },
  message: Buffer,
): Promise<SMTPConnectionSendInfo> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: Error | null, info?: SMTPConnectionSendInfo) => {
      if (settled) return;
      settled = true;
      smtp.removeListener("error", onError);
      smtp.removeListener("end", onEnd);
      if (error) reject(error);
      else resolve(info as SMTPConnectionSendInfo);
    };
    // Let send's own callback, which carries the server's reply (a 421, say), win over the events.
    const onError = (error: Error) => setImmediate(() => settle(error));
    const onEnd = () =>
      setImmediate(() =>
        settle(Object.assign(new Error("SMTP connection closed during the send"), { code: "ECONNECTION" })),
      );
    smtp.once("error", onError);
    smtp.once("end", onEnd);
    smtp.send(envelope, message, (error, info) => settle(error, info));
  });
}
