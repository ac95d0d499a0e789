import { describe, expect, it } from "vitest";
import { dnsRecords, type TestDkimKey, testDkimKey } from "../../../test/dkim-test-keys.ts";
import { canRunOpendkimOffline, verifyWithOpendkim } from "../../../test/opendkim-offline.ts";
import { outgoingEmails } from "../../../test/outgoing-email.ts";
import { requires } from "../../../test/outside-tools.ts";
import { hasPythonDkim, verifyWithPythonDkim } from "../../../test/python-dkim.ts";
import { composeMessage } from "../mime/compose-message.ts";
import type { OutgoingEmail } from "../provider.ts";
import { DkimKeyring } from "./dkim-keyring.ts";
import { loadDkimKey } from "./dkim-keys.ts";
import { DkimSigner } from "./dkim-signer.ts";

const pythonDkim = requires("python3-dkim (Debian's /usr/bin/python3)", hasPythonDkim());
const opendkim = requires("opendkim-tools and unprivileged namespaces (unshare)", canRunOpendkimOffline());

const rsa = testDkimKey("shop.example", "rsa2026");
const ed25519 = testDkimKey("shop.example", "ed2026", "ed25519-sha256");
const next = testDkimKey("shop.example", "rsa2027");

function signerFor(...keys: TestDkimKey[]): DkimSigner {
  return new DkimSigner(
    new DkimKeyring(
      keys.map((key) =>
        loadDkimKey({
          domain: key.domain,
          selector: key.selector,
          algorithm: key.algorithm,
          private_key: key.privatePem,
        }),
      ),
    ),
  );
}

const email = outgoingEmails({
  job_type: "receipt",
  from: { email: "orders@shop.example", name: "Shop" },
  subject: "Your receipt",
  text: "Thanks for your order.\n\nTotal: 42 EUR  \n",
  headers: {},
  attachments: [],
});

const MESSAGES: [string, OutgoingEmail][] = [
  ["text only", email("ada@example.org")],
  ["text and HTML", email("ada@example.org", { html: "<p>Thanks for your <b>order</b>.</p>" })],
  [
    "with an attachment",
    email("ada@example.org", {
      html: "<p>Receipt attached</p>",
      attachments: [
        {
          filename: "receipt.pdf",
          content: Buffer.from("%PDF-1.4 receipt").toString("base64"),
          content_type: "application/pdf",
        },
      ],
    }),
  ],
  [
    "with List-Unsubscribe headers and a Reply-To",
    email("ada@example.org", {
      reply_to: { email: "help@shop.example" },
      headers: {
        "List-Unsubscribe": "<https://shop.example/unsubscribe/abc>, <mailto:unsub@shop.example>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      },
    }),
  ],
  [
    "with a non-ASCII subject, name and body",
    email("zoë@example.org", {
      from: { email: "orders@shop.example", name: "Boutique Éclair" },
      subject: "Votre reçu — merci beaucoup, à bientôt ✓",
      text: "Merci pour votre commande à 42 €.\n",
      html: "<p>Merci · à bientôt</p>",
    }),
  ],
];

async function signed(signer: DkimSigner, outgoing: OutgoingEmail): Promise<Buffer> {
  const from = outgoing.from?.email ?? "";
  return signer.sign(await composeMessage(outgoing, { email: from }), from);
}

/** The message with only its `index`-th DKIM-Signature: opendkim passes a message when any signature does. */
function withOnlySignature(message: Buffer, index: number): Buffer {
  const text = message.toString("latin1");
  const signatures = [...text.matchAll(/^DKIM-Signature:.*(?:\r\n[ \t].*)*\r\n/gm)].map((m) => m[0]);
  const kept = signatures[index] ?? "";
  return Buffer.from(kept + text.slice(signatures.join("").length), "latin1");
}

describe(`DKIM signatures verify with dkimpy${pythonDkim.label}`, () => {
  it.skipIf(pythonDkim.skip).each(MESSAGES)("RSA-2048: a message %s verifies", async (_, outgoing) => {
    const message = await signed(signerFor(rsa), outgoing);
    expect(verifyWithPythonDkim(message, dnsRecords(rsa))).toEqual([true]);
  });

  it.skipIf(pythonDkim.skip).each(MESSAGES)("Ed25519: a message %s verifies", async (_, outgoing) => {
    const message = await signed(signerFor(ed25519), outgoing);
    expect(message.toString("latin1")).toContain("a=ed25519-sha256");
    expect(verifyWithPythonDkim(message, dnsRecords(ed25519))).toEqual([true]);
  });

  it.skipIf(pythonDkim.skip)(
    "during a rotation two selectors of one domain both sign, and each signature verifies alone",
    async () => {
      const message = await signed(signerFor(rsa, next), MESSAGES[3]?.[1] as OutgoingEmail);
      expect(message.toString("latin1").match(/^DKIM-Signature:/gm)).toHaveLength(2);
      expect(verifyWithPythonDkim(message, dnsRecords(rsa, next))).toEqual([true, true]);
      // Each with only its own key published: the other's lookup fails, its own still verifies.
      expect(verifyWithPythonDkim(message, dnsRecords(rsa))).toEqual([true, false]);
      expect(verifyWithPythonDkim(message, dnsRecords(next))).toEqual([false, true]);
    },
  );

  it.skipIf(pythonDkim.skip)(
    "mail from a subdomain is signed with the parent's key as d=parent",
    async () => {
      const outgoing = email("ada@example.org", { from: { email: "weekly@news.shop.example" } });
      const message = await signed(signerFor(rsa), outgoing);
      expect(message.toString("latin1")).toMatch(/ d=shop\.example;/);
      expect(verifyWithPythonDkim(message, dnsRecords(rsa))).toEqual([true]);
    },
  );

  describe("a message altered after signing fails", () => {
    const alterations: [string, (text: string) => string][] = [
      ["a signed header changed", (text) => text.replace("Subject: Your receipt", "Subject: Your refund")],
      ["a body byte changed", (text) => text.replace("Total: 42 EUR", "Total: 43 EUR")],
      // Above the signatures, where a verifier without over-signing would not look for a From.
      ["a second From added", (text) => `From: Mallory <ceo@shop.example>\r\n${text}`],
    ];
    it.skipIf(pythonDkim.skip).each(alterations)("%s", async (_, alter) => {
      for (const key of [rsa, ed25519]) {
        const message = await signed(signerFor(key), email("ada@example.org"));
        expect(verifyWithPythonDkim(message, dnsRecords(key))).toEqual([true]);
        const altered = Buffer.from(alter(message.toString("latin1")), "latin1");
        expect(altered.equals(message)).toBe(false);
        expect(verifyWithPythonDkim(altered, dnsRecords(key))).toEqual([false]);
      }
    });
  });
});

describe(`DKIM signatures verify with OpenDKIM${opendkim.label}`, () => {
  it.skipIf(opendkim.skip).each(MESSAGES)(
    "a message %s verifies with RSA and with Ed25519",
    async (_, outgoing) => {
      for (const key of [rsa, ed25519]) {
        const result = verifyWithOpendkim(await signed(signerFor(key), outgoing), dnsRecords(key));
        expect(result, `${key.algorithm}: ${result.output}`).toEqual({ status: 0, output: "" });
      }
    },
  );

  it.skipIf(opendkim.skip)("each signature of a rotation verifies on its own", async () => {
    const message = await signed(signerFor(rsa, next), email("ada@example.org"));
    for (const index of [0, 1])
      expect(verifyWithOpendkim(withOnlySignature(message, index), dnsRecords(rsa, next)).status).toBe(0);
  });

  it.skipIf(opendkim.skip)("a changed header, a changed body byte or a second From fail", async () => {
    const message = (await signed(signerFor(rsa), email("ada@example.org"))).toString("latin1");
    for (const altered of [
      message.replace("Subject: Your receipt", "Subject: Your refund"),
      message.replace("Total: 42 EUR", "Total: 43 EUR"),
      `From: Mallory <ceo@shop.example>\r\n${message}`,
    ]) {
      const result = verifyWithOpendkim(Buffer.from(altered, "latin1"), dnsRecords(rsa));
      expect(result.status).not.toBe(0);
    }
  });
});
