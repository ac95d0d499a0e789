import { describe, expect, it } from "vitest";
import { testDkimKey } from "../../../test/dkim-test-keys.ts";
import { outgoingEmails } from "../../../test/outgoing-email.ts";
import { composeMessage } from "../mime/compose-message.ts";
import { DkimKeyring } from "./dkim-keyring.ts";
import { loadDkimKey } from "./dkim-keys.ts";
import { DkimSigner, signedWith } from "./dkim-signer.ts";

const key = testDkimKey("shop.example", "ed2026", "ed25519-sha256");
const keyring = new DkimKeyring([
  loadDkimKey({
    domain: key.domain,
    selector: key.selector,
    algorithm: key.algorithm,
    private_key: key.privatePem,
  }),
]);
const sender = { email: "orders@shop.example" };
const email = outgoingEmails({
  job_type: "receipt",
  subject: "Your receipt",
  text: "Thanks",
  headers: {},
  attachments: [],
});

/** The h= names of the first DKIM-Signature. */
function signedNames(message: Buffer): string[] {
  const h = /\bh=([^;]+);/.exec(message.toString("latin1"))?.[1] ?? "";
  return h.replace(/\s+/g, "").split(":");
}

describe("DkimSigner", () => {
  it("signs the listed headers present, over-signs From, and leaves the rest out", async () => {
    const outgoing = email("ada@example.org", {
      reply_to: { email: "help@shop.example" },
      headers: {
        "List-Unsubscribe": "<https://shop.example/u/1>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Campaign": "spring",
      },
    });
    const signed = await new DkimSigner(keyring).sign(await composeMessage(outgoing, sender), sender.email);
    expect(signedNames(signed)).toEqual([
      "from",
      "from",
      "to",
      "subject",
      "date",
      "message-id",
      "mime-version",
      "content-type",
      "content-transfer-encoding",
      "reply-to",
      "list-unsubscribe",
      "list-unsubscribe-post",
    ]);
  });

  it("signs Content-Type but no part's Content-Transfer-Encoding when the top level is multipart", async () => {
    const outgoing = email("ada@example.org", { html: "<p>Thanks</p>" });
    const names = signedNames(
      await new DkimSigner(keyring).sign(await composeMessage(outgoing, sender), sender.email),
    );
    expect(names).toContain("content-type");
    expect(names).not.toContain("content-transfer-encoding");
    expect(names).not.toContain("reply-to");
  });

  it("writes d= as the key's domain, s= its selector and t= the signing time, before the message", async () => {
    const composed = await composeMessage(email("ada@example.org"), { email: "weekly@news.shop.example" });
    const signer = new DkimSigner(keyring, { now: () => new Date("2026-01-02T03:04:05Z") });
    const signed = (await signer.sign(composed, "weekly@news.shop.example")).toString("latin1");
    expect(signed).toMatch(
      /^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=shop\.example;\r\n s=ed2026; t=1767323045;/,
    );
    expect(signed.endsWith(composed.toString("latin1"))).toBe(true);
    for (const line of signed.split("\r\n")) expect(line.length).toBeLessThanOrEqual(78);
  });

  it("leaves mail from a domain without keys unsigned, and reports each such domain once", async () => {
    const unsigned: string[] = [];
    const signer = new DkimSigner(keyring, { onUnsignedDomain: (domain) => unsigned.push(domain) });
    const composed = await composeMessage(email("ada@example.org"), { email: "a@elsewhere.example" });
    expect(await signer.sign(composed, "a@elsewhere.example")).toBe(composed);
    await signer.sign(composed, "b@Elsewhere.example");
    await signer.sign(composed, "c@third.example");
    expect(unsigned).toEqual(["elsewhere.example", "third.example"]);
  });

  it("passes a message through untouched when there is no signer", async () => {
    const composed = await composeMessage(email("ada@example.org"), sender);
    expect(await signedWith(undefined, composed, sender.email)).toBe(composed);
  });
});
