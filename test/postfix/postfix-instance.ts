import { execFile } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../free-port.ts";
import { selfSignedCertificate } from "../tls.ts";
import { until } from "../until.ts";

const run = promisify(execFile);
const POSTFIX = "/usr/sbin/postfix";
const POSTCONF = "/usr/sbin/postconf";

export interface PostfixOptions {
  /** Domains whose every address is delivered to the one Maildir (a catch-all). */
  domains?: readonly string[];
  /** main.cf settings applied after the instance's own, so they override them (`local_recipient_maps: ""`). */
  settings?: Readonly<Record<string, string>>;
  /**
   * Also listen on `plainPort` without offering STARTTLS, for a client whose bytes a TCP relay
   * (test/hostile/wire-tap.ts) is to record: TLS would hide them.
   */
  plaintext?: boolean;
}

export interface PostfixInstance {
  /** The loopback port of smtpd offering STARTTLS. */
  port: number;
  /** The port without STARTTLS, with `plaintext`. */
  plainPort: number | undefined;
  /** The PEM certificate smtpd presents: self-signed for localhost and 127.0.0.1, so its own CA. */
  certificate: string;
  /** The instance's directory (config in etc/, queue in queue/), for a caller's map files. */
  directory: string;
  /** Every message delivered to the Maildir so far, oldest first, as Postfix stored it (LF line ends). */
  messages(): Buffer[];
  /** Waits until the Maildir holds at least `count` messages; fails showing the mail log. */
  waitForMessages(count: number, timeoutMs?: number): Promise<Buffer[]>;
  /** The instance's mail log (maillog_file): every daemon's lines, for a failure's message. */
  log(): string;
  /** Stops Postfix, waits for its master process to exit, and removes the directory. */
  stop(): Promise<void>;
}

/** Starting a Postfix master needs Postfix installed and root (it binds ports, then drops to mail_owner). */
export function postfixRunnable(): boolean {
  return existsSync(POSTFIX) && process.getuid?.() === 0;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function idOf(flag: "-u" | "-g", user: string): Promise<number> {
  return Number((await run("id", [flag, user])).stdout.trim());
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A private Postfix instance on free loopback ports, its own config, queue, data and Maildir under
 * one temporary directory: `postfix -c DIR` run as root needs no change to the system's Postfix
 * (alternate_config_directories is checked only for unprivileged callers), and nothing is shared
 * with another instance, so test files can each start one at the same time.
 *
 * Strict the way a careful MX is: bare CR or LF in SMTP is refused (smtpd_forbid_bare_newline, with
 * no client exempt), so a message that reaches the Maildir had canonical line ends on the wire.
 * Delivery is by virtual(8) into one Maildir for every address of `domains`: no Unix account or home
 * directory is needed, and header rewriting is off so stored messages are what was sent plus the
 * trace fields Postfix prepends.
 */
export async function startPostfix(options: PostfixOptions = {}): Promise<PostfixInstance> {
  const domains = options.domains ?? ["example.org", "example.com", "example.net", "shop.example"];
  const directory = mkdtempSync(join(tmpdir(), "ew-postfix-"));
  // The daemons run as postfix and must reach their directories below this one.
  chmodSync(directory, 0o755);
  const etc = join(directory, "etc");
  const data = join(directory, "data");
  const mail = join(directory, "mail");
  const maillog = join(directory, "maillog");
  const uid = await idOf("-u", "postfix");
  const gid = await idOf("-g", "postfix");
  for (const dir of [etc, join(directory, "queue"), data, mail]) mkdirSync(dir);
  chownSync(data, uid, gid);
  chownSync(mail, uid, gid);

  const { key, cert } = await selfSignedCertificate();
  writeFileSync(join(etc, "key.pem"), key, { mode: 0o600 });
  writeFileSync(join(etc, "cert.pem"), cert);
  writeFileSync(join(etc, "catch-all.regexp"), "/./ maildir/\n");
  copyFileSync("/etc/postfix/master.cf", join(etc, "master.cf"));

  const port = await freePort();
  const plainPort = options.plaintext ? await freePort() : undefined;
  const settings: Record<string, string> = {
    compatibility_level: "3.6",
    queue_directory: join(directory, "queue"),
    data_directory: data,
    mail_owner: "postfix",
    setgid_group: "postdrop",
    syslog_name: `postfix-${directory.slice(-6)}`,
    maillog_file: maillog,
    maillog_file_prefixes: directory,
    myhostname: "mx.postfix.test",
    mydomain: "postfix.test",
    mydestination: "",
    inet_interfaces: "loopback-only",
    inet_protocols: "ipv4",
    mynetworks: "127.0.0.0/8",
    alias_maps: "",
    alias_database: "",
    biff: "no",
    smtpd_forbid_bare_newline: "reject",
    smtpd_forbid_bare_newline_exclusions: "",
    smtpd_tls_security_level: "may",
    smtpd_tls_cert_file: join(etc, "cert.pem"),
    smtpd_tls_key_file: join(etc, "key.pem"),
    smtpd_tls_received_header: "yes",
    local_header_rewrite_clients: "",
    message_size_limit: String(50 * 1024 * 1024),
    virtual_mailbox_limit: "0",
    virtual_mailbox_domains: domains.join(", "),
    virtual_mailbox_base: mail,
    virtual_mailbox_maps: `regexp:${join(etc, "catch-all.regexp")}`,
    virtual_uid_maps: `static:${uid}`,
    virtual_gid_maps: `static:${gid}`,
    ...options.settings,
  };
  writeFileSync(
    join(etc, "main.cf"),
    Object.entries(settings)
      .map(([name, value]) => `${name} = ${value}\n`)
      .join(""),
  );
  const postconf = (...args: string[]) => run(POSTCONF, ["-c", etc, ...args]);
  // The system's services, but none chrooted (the queue directory holds no copy of /etc) and no
  // port 25: smtpd only on this instance's ports.
  await postconf("-MX", "smtp/inet");
  await postconf("-F", "*/*/chroot = n");
  await postconf("-M", `127.0.0.1:${port}/inet=127.0.0.1:${port} inet n - n - - smtpd`);
  if (plainPort !== undefined)
    await postconf(
      "-M",
      `127.0.0.1:${plainPort}/inet=127.0.0.1:${plainPort} inet n - n - - smtpd -o smtpd_tls_security_level=none`,
    );

  const log = () => (existsSync(maillog) ? readFileSync(maillog, "utf8") : "");
  const maildir = join(mail, "maildir", "new");
  const messages = () => {
    if (!existsSync(maildir)) return [];
    return readdirSync(maildir)
      .map((name) => join(maildir, name))
      .map((path) => ({ path, time: statSync(path).mtimeMs }))
      .sort((a, b) => a.time - b.time || a.path.localeCompare(b.path))
      .map(({ path }) => readFileSync(path));
  };
  const stop = async () => {
    const pidFile = join(directory, "queue", "pid", "master.pid");
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : undefined;
    if (pid !== undefined && isRunning(pid)) {
      // What `postfix stop` does, without its script's second-long polls: master takes its process
      // group (every daemon of this instance) down with it on SIGTERM.
      process.kill(pid, "SIGTERM");
      await until(async () => !isRunning(pid), 10_000, `Postfix master ${pid} to exit`);
    }
    rmSync(directory, { recursive: true, force: true });
  };

  try {
    await run(POSTFIX, ["-c", etc, "start"]);
    await until(async () => accepts(port), 10_000, `Postfix on port ${port}`);
  } catch (error) {
    const reason = `${error instanceof Error ? error.message : String(error)}\n${log()}`;
    await stop();
    throw new Error(`Postfix did not start: ${reason}`);
  }

  return {
    port,
    plainPort,
    certificate: cert,
    directory,
    messages,
    async waitForMessages(count, timeoutMs = 20_000) {
      try {
        await until(async () => messages().length >= count, timeoutMs, `${count} messages in the Maildir`);
      } catch (error) {
        throw new Error(`${error instanceof Error ? error.message : String(error)}; mail log:\n${log()}`);
      }
      return messages();
    },
    log,
    stop,
  };
}
