import { describe, expect, it } from "vitest";
import { dnsRecords, testDkimKey } from "../../../test/dkim-test-keys.ts";
import { outgoingEmails } from "../../../test/outgoing-email.ts";
import { requires } from "../../../test/outside-tools.ts";
import { hasPythonDkim, verifyWithPythonDkim } from "../../../test/python-dkim.ts";
import { composeMessage } from "../mime/compose-message.ts";
import { DkimKeyring } from "./dkim-keyring.ts";
import { loadDkimKey } from "./dkim-keys.ts";
import { DkimSigner } from "./dkim-signer.ts";

const pythonDkim = requires("python3-dkim (Debian's /usr/bin/python3)", hasPythonDkim());
const key = testDkimKey("shop.example", "rsa2026");
const signer = new DkimSigner(
  new DkimKeyring([
    loadDkimKey({
      domain: key.domain,
      selector: key.selector,
      algorithm: key.algorithm,
      private_key: key.privatePem,
    }),
  ]),
);

const email = outgoingEmails({
  job_type: "receipt",
  from: { email: "orders@shop.example" },
  subject: "Your receipt",
  text: "Thanks.",
  headers: {},
  attachments: [],
});

describe(`a DKIM-signed message with Cc and Bcc recipients${pythonDkim.label}`, () => {
  it.skipIf(pythonDkim.skip)("signs the Cc header, verifies, and fails once Cc is altered", async () => {
    const outgoing = email("ada@example.org", {
      cc: [{ email: "bob@example.org", name: "Bob" }],
      bcc: [{ email: "audit@example.org" }],
    });
    const message = await signer.sign(
      await composeMessage(outgoing, { email: "orders@shop.example" }),
      "orders@shop.example",
    );
    const text = message.toString("latin1");
    expect(text).toMatch(/h=[^;]*\bcc\b/);
    expect(text).not.toContain("audit@example.org");
    expect(verifyWithPythonDkim(message, dnsRecords(key))).toEqual([true]);
    const altered = Buffer.from(text.replace("bob@example.org", "eve@example.org"), "latin1");
    expect(verifyWithPythonDkim(altered, dnsRecords(key))).toEqual([false]);
  });
});
