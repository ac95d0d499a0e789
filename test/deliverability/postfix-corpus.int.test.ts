import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ParsedMail, simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HostileService, startHostileService } from "../hostile/hostile-service.ts";
import { readSmtpStream } from "../hostile/wire-tap.ts";
import { hasCommand, requires } from "../outside-tools.ts";
import { type PostfixInstance, postfixRunnable, startPostfix } from "../postfix/postfix-instance.ts";
import { type CorpusJob, corpus } from "./corpus.ts";
import { pythonDefects } from "./python-defects.ts";
import { malformationRules, spamAssassin } from "./spamassassin.ts";
import { readStored, type StoredMessage, unstuffed } from "./stored-message.ts";

const tools = requires(
  "Postfix run as root, SpamAssassin and /usr/bin/python3",
  postfixRunnable() && hasCommand("spamassassin") && existsSync("/usr/bin/python3"),
);

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
/** Line ends as mailparser gives them back. */
const lf = (text: string) => text.replace(/\r\n?/g, "\n");

interface Delivered {
  entry: CorpusJob;
  /** As stored by Postfix from the service that used STARTTLS, and from the one the tap recorded. */
  tls: StoredMessage;
  plain: StoredMessage;
  /** The plain service's message as its SMTP client wrote it, dot-stuffing undone. */
  sent: Buffer;
}

/**
 * The real service delivering a corpus of hard jobs through a real, strict MTA. The service runs
 * twice, on one Postfix instance: once over STARTTLS as it is deployed (SMTP_USE_TLS with the
 * instance's certificate as CA), and once in the clear through the wire tap, because a TCP relay
 * cannot see inside TLS and the comparison must be with the bytes the service itself wrote, not
 * with a second composition (each one draws new boundaries and a new Date). The TLS copy of every
 * job must decode to the same content as the recorded one.
 */
describe.skipIf(tools.skip)(`the corpus, sent by the service through Postfix${tools.label}`, () => {
  let postfix: PostfixInstance;
  let tlsService: HostileService;
  let plainService: HostileService;
  let caDir: string;
  const delivered: Delivered[] = [];

  async function queue(service: HostileService, entry: CorpusJob): Promise<string> {
    const answer = await service.post("/v1/emails", {
      type: "corpus",
      recipient_email: "ada@example.org",
      ...entry.job,
    });
    expect(answer.status, `${entry.name}: ${JSON.stringify(answer.body)}`).toBe(202);
    return answer.body.job_id as string;
  }

  beforeAll(async () => {
    postfix = await startPostfix({ plaintext: true });
    caDir = mkdtempSync(join(tmpdir(), "ew-corpus-ca-"));
    writeFileSync(join(caDir, "ca.pem"), postfix.certificate);
    [tlsService, plainService] = await Promise.all([
      startHostileService(
        { SMTP_USE_TLS: "true", SMTP_TLS_CA_FILE: join(caDir, "ca.pem"), SMTP_TLS_SERVERNAME: "localhost" },
        { smtp: { port: postfix.port } },
      ),
      startHostileService({ SMTP_USE_TLS: "false" }, { smtp: { port: postfix.plainPort ?? 0 } }),
    ]);
    const entries = corpus();
    const ids: { entry: CorpusJob; tls: string; plain: string }[] = [];
    for (const entry of entries)
      ids.push({ entry, tls: await queue(tlsService, entry), plain: await queue(plainService, entry) });

    const stored = await postfix.waitForMessages(entries.length * 2, 60_000);
    const byJob = new Map<string, StoredMessage>();
    for (const raw of stored) {
      const message = readStored(raw);
      const id = /^X-Email-Job-Id: (\S+)\r$/m.exec(message.message.toString("latin1"))?.[1];
      if (id) byJob.set(id, message);
    }
    const sentByJob = new Map<string, Buffer>();
    for (const session of plainService.wire.sessions())
      for (const { data } of readSmtpStream(session).messages) {
        const id = /^X-Email-Job-Id: (\S+)\r$/m.exec(data.toString("latin1"))?.[1];
        if (id) sentByJob.set(id, unstuffed(data));
      }
    for (const { entry, tls, plain } of ids) {
      const found = { tls: byJob.get(tls), plain: byJob.get(plain), sent: sentByJob.get(plain) };
      if (!found.tls || !found.plain || !found.sent)
        throw new Error(`${entry.name}: not delivered; mail log:\n${postfix.log()}`);
      delivered.push({ entry, tls: found.tls, plain: found.plain, sent: found.sent });
    }
  });

  afterAll(async () => {
    await Promise.all([tlsService?.close(), plainService?.close()]);
    await postfix?.stop();
    if (caDir) rmSync(caDir, { recursive: true, force: true });
  });

  it("stores every message byte for byte as the service sent it, bare-newline strict mode and all", () => {
    expect(postfix.log()).not.toMatch(/bare <(?:CR|LF)>|reject:/i);
    for (const { entry, plain, sent } of delivered) {
      expect(plain.heldCr, entry.name).toBe(false);
      expect(
        plain.trace.map((field) => field.split(":")[0]),
        entry.name,
      ).toEqual(["Return-Path", "X-Original-To", "Delivered-To", "Received"]);
      expect(plain.message.equals(sent), `${entry.name}: stored differs from sent`).toBe(true);
    }
  });

  it("delivers the STARTTLS copy of every job with the same content as the recorded copy, and as the job gave it", async () => {
    const summary = (mail: ParsedMail) => ({
      subject: mail.subject,
      from: mail.from?.value,
      to: Array.isArray(mail.to) ? undefined : mail.to?.value,
      replyTo: mail.replyTo?.value,
      text: mail.text,
      html: mail.html,
      headers: ["x-campaign", "x-long", "x-words", "x-note", "list-unsubscribe"].map((name) =>
        JSON.stringify(mail.headers.get(name)),
      ),
      attachments: mail.attachments.map((a) => [a.filename, a.contentType, sha256(a.content)]),
    });
    for (const { entry, tls, plain } of delivered) {
      expect(tls.heldCr, entry.name).toBe(false);
      expect(
        tls.trace.find((field) => field.startsWith("Received:")),
        entry.name,
      ).toMatch(/\(using TLSv1\.[23]/);
      const [overTls, inClear] = await Promise.all([simpleParser(tls.message), simpleParser(plain.message)]);
      expect(summary(overTls), entry.name).toEqual(summary(inClear));

      const job = entry.job as {
        subject: string;
        text?: string;
        html?: string;
        attachments?: { filename: string; content: string }[];
      };
      expect(overTls.subject, entry.name).toBe(job.subject);
      // A message ends with a line end (SMTP adds one), so single-part text may gain one at its end.
      if (job.text !== undefined)
        expect(overTls.text?.replace(/\n$/, ""), entry.name).toBe(lf(job.text).replace(/\n$/, ""));
      if (job.html !== undefined) expect(overTls.html, entry.name).toBe(lf(job.html));
      expect(
        overTls.attachments.map((a) => [a.filename, sha256(a.content)]),
        entry.name,
      ).toEqual((job.attachments ?? []).map((a) => [a.filename, sha256(Buffer.from(a.content, "base64"))]));
    }
  });

  it("gives Python's email package no defect in any part or header of any message, and the file names and headers as given", async () => {
    for (const { entry, tls, plain } of delivered)
      for (const stored of [tls, plain]) {
        const read = await pythonDefects(stored.message);
        expect(read.defects, entry.name).toEqual([]);
        const names = ((entry.job.attachments as { filename: string }[] | undefined) ?? []).map(
          (a) => a.filename,
        );
        expect(read.filenames, entry.name).toEqual(names);
        // mailparser leaves unknown fields encoded; Python decodes them as a mail client would.
        const headers = (entry.job.headers as Record<string, string> | undefined) ?? {};
        for (const [name, value] of Object.entries(headers))
          expect(read.headers[name], `${entry.name}: ${name}`).toBe(value);
      }
  });

  it("hits no SpamAssassin rule for malformed mail (MIME_*, MISSING_*, INVALID_*, HEADER_*, DKIM_INVALID)", async () => {
    // Two at a time: each run is a Perl process loading every rule, seconds of CPU.
    const results: { name: string; rules: string[]; report: string }[] = [];
    for (let at = 0; at < delivered.length; at += 2)
      results.push(
        ...(await Promise.all(
          delivered.slice(at, at + 2).map(async ({ entry, tls }) => {
            const raw = Buffer.concat([Buffer.from(`${tls.trace.join("\r\n")}\r\n`), tls.message]);
            return { name: entry.name, ...(await spamAssassin(raw)) };
          }),
        )),
      );
    const failures = results
      .map((result) => ({ ...result, malformed: malformationRules(result.rules) }))
      .filter((result) => result.malformed.length > 0);
    expect(
      failures.map((f) => `${f.name}: ${f.malformed.join(", ")} (all hits: ${f.rules.join(", ")})`),
      failures.map((f) => f.report).join("\n\n"),
    ).toEqual([]);
  }, 240_000);

  it("refuses at intake what cannot be sent, naming the field", async () => {
    const refusals: [Record<string, unknown>, string][] = [
      [{ subject: "empty", text: "" }, "text"],
      [{ subject: "blank", text: "  \n", html: "" }, "text"],
      [{ subject: "empty html", html: " " }, "html"],
      [{ subject: "long", text: "x", headers: { "X-Foo": "y".repeat(998) } }, "headers.X-Foo"],
    ];
    for (const [job, field] of refusals) {
      const answer = await tlsService.post("/v1/emails", {
        type: "corpus",
        recipient_email: "ada@example.org",
        ...job,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
      expect(JSON.stringify(answer.body), field).toContain(`"${field}"`);
    }
  });
});
