import { DeliveryError } from "../delivery-error.ts";
import {
  SmtpConnection,
  type SmtpConnectionOptions,
  type SmtpEnvelope,
  type SmtpSendInfo,
} from "./smtp-connection.ts";
import { isSmtpConnectionFailure } from "./smtp-errors.ts";

interface SmtpPoolOptions {
  connection: SmtpConnectionOptions;
  auth?: { user: string; pass: string } | undefined;
  /** Connections kept open at most. */
  size: number;
}

interface PooledConnection {
  smtp: SmtpConnection;
  /** Messages sent over it: a reused connection may have been closed by the server meanwhile. */
  sent: number;
  closed: boolean;
}

/**
 * A pool of open SMTP connections (SmtpConnection) that sends finished MIME. Where the server
 * pipelines, a busy connection takes one round trip a message: the next envelope leaves with this
 * message's data. A connection the server dropped while idle is replaced and the message goes over
 * a new one; a refused message leaves its connection usable after RSET.
 */
export class SmtpPool {
  readonly #options: SmtpPoolOptions;
  readonly #idle: PooledConnection[] = [];
  readonly #all = new Set<PooledConnection>();
  /**
   * Sends waiting for a connection, the most urgent first and in arrival order within a priority:
   * a critical email waiting behind a campaign's would wait for all of them. Each gets a
   * connection, or the error that prevented opening one.
   */
  readonly #waiting: { priority: number; wake: (connection: PooledConnection | Error) => void }[] = [];
  #opening = 0;
  #closed = false;

  constructor(options: SmtpPoolOptions) {
    this.#options = options;
  }

  /**
   * Sends over a pooled connection. `signal` is the caller giving up (the job's time limit): a send
   * still waiting for a connection then never starts, so that the retry is not a second copy.
   */
  async send(
    envelope: SmtpEnvelope,
    message: Buffer,
    signal?: AbortSignal,
    priority = 0,
  ): Promise<SmtpSendInfo> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.#acquire(priority, signal);
      if (signal?.aborted) {
        this.#release(connection);
        throw gaveUpWaiting();
      }
      let handedOn = false;
      try {
        // Once this message is written the connection takes the next one, while this one waits
        // for its final reply: one round trip a message instead of two.
        return await connection.smtp.send(envelope, message, () => {
          handedOn = true;
          connection.sent++;
          this.#release(connection);
        });
      } catch (error) {
        // Refused or lost at its end of data: the transaction is over either way and the
        // connection already serves others (or is gone, which its close handler takes care of).
        if (handedOn) throw error;
        const e = error as { code?: string; responseCode?: number; command?: string };
        const refused = (e.code === "EENVELOPE" || e.code === "EMESSAGE") && e.responseCode !== 421;
        if (refused && !connection.closed) {
          // The server refused this message; the session is fine once reset.
          connection.smtp.reset().then(
            () => this.#release(connection),
            () => this.#discard(connection),
          );
          throw error;
        }
        this.#discard(connection);
        // Dropped while idle, before any of this message went out: try once more on a new connection.
        // (Of the connection failures, a refused connect cannot come here: #acquire opens connections.)
        const beforeData = e.command !== "DATA" && e.command !== "DATA_END";
        if (connection.sent > 0 && attempt === 0 && beforeData && isSmtpConnectionFailure(e.code)) continue;
        throw error;
      }
    }
  }

  /** Opens a connection the way sends do (TLS, AUTH) and closes it again: a check of the settings. */
  async verify(): Promise<void> {
    const smtp = await SmtpConnection.open(this.#options.connection);
    try {
      if (this.#options.auth) await smtp.login(this.#options.auth.user, this.#options.auth.pass);
    } finally {
      smtp.quit();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const { wake } of this.#waiting.splice(0)) wake(closedError());
    for (const connection of this.#all) connection.smtp.quit();
    this.#all.clear();
    this.#idle.length = 0;
  }

  /**
   * An idle or new connection, or the next one released. A caller giving up (`signal`) while it
   * waits leaves the line at once: nothing of its message has gone out, so that failure is plain.
   */
  async #acquire(priority: number, signal: AbortSignal | undefined): Promise<PooledConnection> {
    if (this.#closed) throw closedError();
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#all.size + this.#opening < this.#options.size) return this.#open();
    if (signal?.aborted) throw gaveUpWaiting();
    const connection = await new Promise<PooledConnection | Error>((resolve) => {
      const waiter = {
        priority,
        wake: (given: PooledConnection | Error) => {
          signal?.removeEventListener("abort", leave);
          resolve(given);
        },
      };
      const leave = () => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        resolve(gaveUpWaiting());
      };
      signal?.addEventListener("abort", leave, { once: true });
      // Behind every waiter of this priority or higher; a pool has as many waiters as workers.
      let at = this.#waiting.length;
      while (at > 0 && (this.#waiting[at - 1]?.priority ?? 0) < priority) at--;
      this.#waiting.splice(at, 0, waiter);
    });
    if (connection instanceof Error) throw connection;
    return connection;
  }

  #release(connection: PooledConnection): void {
    if (connection.closed || this.#closed) {
      this.#discard(connection);
      return;
    }
    const waiter = this.#waiting.shift();
    if (waiter) waiter.wake(connection);
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
      this.#open().then(waiter.wake, (error: unknown) =>
        waiter.wake(error instanceof Error ? error : closedError()),
      );
  }

  async #open(): Promise<PooledConnection> {
    this.#opening++;
    let smtp: SmtpConnection | undefined;
    try {
      smtp = await SmtpConnection.open(this.#options.connection);
      if (this.#options.auth) await smtp.login(this.#options.auth.user, this.#options.auth.pass);
    } catch (error) {
      smtp?.close();
      throw error;
    } finally {
      this.#opening--;
    }
    const connection: PooledConnection = { smtp, sent: 0, closed: false };
    smtp.onClose(() => {
      connection.closed = true;
      this.#all.delete(connection);
      const index = this.#idle.indexOf(connection);
      if (index >= 0) this.#idle.splice(index, 1);
    });
    this.#all.add(connection);
    return connection;
  }
}

/** The job's time ran out before its send began: nothing went out, so the failure is not ambiguous. */
function gaveUpWaiting(): DeliveryError {
  return new DeliveryError(
    "transient",
    "send_timeout",
    "gave up waiting for an SMTP connection: nothing was sent",
  );
}

function closedError(): Error {
  return Object.assign(new Error("SMTP pool is closed"), { code: "ECONNECTION" });
}
