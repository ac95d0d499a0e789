import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dnsRecords, testDkimKey } from "../../../test/dkim-test-keys.ts";
import { outgoingEmails } from "../../../test/outgoing-email.ts";
import { requires } from "../../../test/outside-tools.ts";
import { hasPythonDkim, verifyWithPythonDkim } from "../../../test/python-dkim.ts";
import { type SmtpSink, startSmtpSink } from "../../../test/smtp-sink.ts";
import { OutboxProvider } from "../outbox/outbox-provider.ts";
import { SmtpProvider } from "../smtp/smtp-provider.ts";
import { DkimKeyring } from "./dkim-keyring.ts";
import { loadDkimKey } from "./dkim-keys.ts";
import { DkimSigner } from "./dkim-signer.ts";

const pythonDkim = requires("python3-dkim (Debian's /usr/bin/python3)", hasPythonDkim());
const key = testDkimKey("shop.example", "rsa2026");
const signer = () =>
  new DkimSigner(
    new DkimKeyring([
      loadDkimKey({ domain: key.domain, selector: key.selector, private_key: key.privatePem }),
    ]),
  );

const email = outgoingEmails({
  job_type: "receipt",
  subject: "Votre reçu",
  text: "Merci !",
  html: "<p>Merci !</p>",
  headers: {
    "List-Unsubscribe": "<https://shop.example/u/1>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
  },
  attachments: [
    { filename: "r.txt", content: Buffer.from("receipt").toString("base64"), content_type: "text/plain" },
  ],
});
const sender = { email: "orders@shop.example", name: "Shop" };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe(`providers send DKIM-signed mail${pythonDkim.label}`, () => {
  it.skipIf(pythonDkim.skip)("the outbox writes a .eml whose signature verifies", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ew-dkim-outbox-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const provider = new OutboxProvider({ dir, sender, dkim: signer() });
    const outgoing = email("ada@example.org");
    await provider.send(outgoing);
    const written = readFileSync(join(dir, `${outgoing.job_id}.eml`));
    expect(written.toString("latin1")).toMatch(/^DKIM-Signature: /);
    expect(verifyWithPythonDkim(written, dnsRecords(key))).toEqual([true]);
  });

  it.skipIf(pythonDkim.skip)(
    "SMTP delivers a message whose signature verifies as the relay received it",
    async () => {
      const sink: SmtpSink = await startSmtpSink();
      cleanups.push(() => sink.close());
      const provider = new SmtpProvider({
        host: "127.0.0.1",
        port: sink.port,
        useTls: false,
        accounts: [],
        sender,
        poolSize: 1,
        timeoutMs: 5_000,
        dkim: signer(),
      });
      cleanups.push(() => provider.close());
      await provider.send(email("ada@example.org"));
      // A second From domain without a key goes out unsigned through the same provider.
      await provider.send(email("bob@example.org", { from: { email: "hello@unsigned.example" } }));
      const [signed, unsigned] = sink.messages;
      expect(verifyWithPythonDkim(Buffer.from(signed?.raw ?? "", "utf8"), dnsRecords(key))).toEqual([true]);
      expect(unsigned?.raw).not.toContain("DKIM-Signature");
    },
  );
});
