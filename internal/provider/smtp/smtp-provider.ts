import { envelopeSender } from "../../bounce/return-path.ts";
import type { Mailbox } from "../../job/email-job.ts";
import { abortable } from "../abortable.ts";
import { DeliveryError, refuseProviderTemplate } from "../delivery-error.ts";
import type { DkimSigner } from "../dkim/dkim-signer.ts";
import { messageIdFor } from "../mime/mail-options.ts";
import { composeSigned } from "../mime/signed-message.ts";
import type { OutgoingEmail, Provider, SendResult } from "../provider.ts";
import { classifySmtpError } from "./smtp-errors.ts";
import { SmtpPool } from "./smtp-pool.ts";

export interface SmtpAccountOptions {
  username: string;
  password: string;
  /** Messages per UTC day; 0 = no cap. */
  daily_limit: number;
}

interface SmtpProviderOptions {
  host: string;
  port: number;
  /** Require TLS: implicit on 465, STARTTLS elsewhere. */
  useTls: boolean;
  /** One or more accounts on the host (`email.providers.smtp.accounts`), used round-robin. Empty: no AUTH. */
  accounts: readonly SmtpAccountOptions[];
  sender: Mailbox;
  poolSize: number;
  timeoutMs: number;
  /** Extra CAs to trust, besides Node's bundled ones (a private relay CA: `tls_ca_file`). */
  ca?: string | Buffer | undefined;
  /** The name the relay's certificate must carry when it is not `host` (`tls_servername`). */
  servername?: string | undefined;
  /** Envelope sender (MAIL FROM), where bounces go; absent: the From address. */
  returnPath?: string | undefined;
  /** Put the job id in the return path's local part (VERP), so a bounce names its job. */
  verp?: boolean | undefined;
  now?: () => Date;
  /** Signs each message with the From domain's DKIM keys; absent: unsigned. */
  dkim?: DkimSigner | undefined;
}

interface Account {
  label: string;
  pool: SmtpPool;
  dailyLimit: number;
  day: string;
  sentToday: number;
}

/**
 * SMTP over a pool of open connections (SmtpPool, on our pipelining SMTP client): each account
 * has its own pool, and accounts take turns. An account at its daily cap is skipped; when all are,
 * the send is throttled until the next UTC day.
 */
export class SmtpProvider implements Provider {
  readonly name = "smtp";
  readonly #accounts: Account[];
  readonly #sender: Mailbox;
  readonly #returnPath: { address: string; verp: boolean } | undefined;
  readonly #now: () => Date;
  readonly #dkim: DkimSigner | undefined;
  readonly #timeoutMs: number;
  readonly #settings: { host: string; port: number; useTls: boolean };
  #next = 0;

  constructor(options: SmtpProviderOptions) {
    this.#sender = options.sender;
    this.#returnPath = options.returnPath
      ? { address: options.returnPath, verp: options.verp ?? false }
      : undefined;
    this.#settings = { host: options.host, port: options.port, useTls: options.useTls };
    this.#now = options.now ?? (() => new Date());
    this.#dkim = options.dkim;
    this.#timeoutMs = options.timeoutMs;
    const accounts = options.accounts.length > 0 ? options.accounts : [undefined];
    this.#accounts = accounts.map((account) => ({
      label: account?.username ?? "anonymous",
      pool: new SmtpPool({
        size: options.poolSize,
        ...(account && { auth: { user: account.username, pass: account.password } }),
        connection: {
          host: options.host,
          port: options.port,
          secure: options.useTls && options.port === 465,
          requireTLS: options.useTls && options.port !== 465,
          ignoreTLS: !options.useTls,
          timeoutMs: options.timeoutMs,
          ...(options.ca !== undefined && { ca: [options.ca.toString()] }),
          ...(options.servername && { servername: options.servername }),
        },
      }),
      dailyLimit: account?.daily_limit ?? 0,
      day: "",
      sentToday: 0,
    }));
  }

  async compose(email: OutgoingEmail): Promise<Buffer> {
    refuseProviderTemplate(email, this.name);
    return composeSigned(email, this.#sender, this.#dkim);
  }

  async send(email: OutgoingEmail, signal?: AbortSignal): Promise<SendResult> {
    refuseProviderTemplate(email, this.name);
    const account = this.#pickAccount();
    const from = email.from ?? this.#sender;
    // The message is composed once here; the pool only streams it.
    const raw = await this.compose(email);
    const to = email.to.email;
    const sending = account.pool.send(
      {
        from: this.#envelopeSender(email, from),
        // One message for every recipient: the Bcc ones are in the envelope and nowhere else.
        to: [to, ...(email.cc ?? []).map((m) => m.email), ...(email.bcc ?? []).map((m) => m.email)],
        mustAccept: to,
      },
      raw,
      signal,
      email.priority,
    );
    let info: Awaited<typeof sending>;
    try {
      // A time limit reached mid-send: the relay gets one more SMTP timeout to answer. Nearly always it
      // does (the job was slow to start, not the relay slow to take it), and its answer is final;
      // an abandoned send would be retried as ambiguous and could arrive twice.
      info = await abortable(sending, signal, this.#timeoutMs);
    } catch (error) {
      if (error instanceof DeliveryError) throw error;
      throw classifySmtpError(error);
    }
    // SmtpConnection throws when the To recipient is refused (nothing is sent then), and lists here
    // the Cc and Bcc recipients it refused while sending to the others: a sent message is not sent
    // again for them (that would repeat it for everyone else), so they are only reported.
    if (!info.accepted.includes(to)) {
      const reason = info.rejectedErrors[info.rejected.indexOf(to)] ?? info.rejectedErrors[0];
      throw reason
        ? classifySmtpError(reason)
        : new DeliveryError("permanent", "smtp_rejected", "recipient rejected");
    }
    account.sentToday++;
    // The Message-ID is ours: it is in the composed message.
    return {
      provider: this.name,
      message_id: messageIdFor(email, from),
      ...(info.rejected.length > 0 && {
        refused_recipients: info.rejected.map((email, i) => ({
          email,
          reason: info.rejectedErrors[i]?.message ?? "refused",
        })),
      }),
    };
  }

  async verify(signal: AbortSignal): Promise<string> {
    try {
      await abortable(Promise.all(this.#accounts.map((account) => account.pool.verify())), signal);
    } catch (error) {
      if (error instanceof DeliveryError) throw error;
      throw classifySmtpError(error);
    }
    const { host, port, useTls } = this.#settings;
    const users = this.#accounts.flatMap((account) => (account.label === "anonymous" ? [] : [account.label]));
    return [
      `${host}:${port}`,
      useTls ? (port === 465 ? "TLS" : "STARTTLS") : "no TLS",
      users.length > 0 ? `AUTH as ${users.join(", ")}` : "no AUTH",
    ].join(", ");
  }

  async close(): Promise<void> {
    await Promise.all(this.#accounts.map((account) => account.pool.close()));
  }

  #envelopeSender(email: OutgoingEmail, from: Mailbox): string {
    if (!this.#returnPath) return from.email;
    return envelopeSender(this.#returnPath.address, this.#returnPath.verp, email.job_id);
  }

  #pickAccount(): Account {
    const today = this.#now().toISOString().slice(0, 10);
    for (let i = 0; i < this.#accounts.length; i++) {
      const account = this.#accounts[(this.#next + i) % this.#accounts.length] as Account;
      if (account.day !== today) {
        account.day = today;
        account.sentToday = 0;
      }
      if (account.dailyLimit === 0 || account.sentToday < account.dailyLimit) {
        this.#next = (this.#next + i + 1) % this.#accounts.length;
        return account;
      }
    }
    const midnight = new Date(`${today}T00:00:00Z`).getTime() + 86_400_000;
    throw new DeliveryError("throttled", "smtp_daily_limit", "every SMTP account reached its daily limit", {
      retryAfterMs: midnight - this.#now().getTime(),
    });
  }
}
