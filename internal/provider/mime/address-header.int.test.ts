import fc from "fast-check";
import { type AddressObject, simpleParser } from "mailparser";
import { describe, expect, it } from "vitest";
import { readWithPython } from "../../../test/python-email.ts";
import type { OutgoingEmail } from "../provider.ts";
import { composeMessage } from "./compose-message.ts";

const FROM_NAME = "Shöp <security@bank.example>";
const TO_NAME = "Jürgen, attacker@evil.example, ";

function email(overrides: Partial<OutgoingEmail> = {}): OutgoingEmail {
  return {
    job_id: "11111111-2222-4333-8444-555555555555",
    job_type: "order_shipped",
    to: { email: "juergen@example.org", name: TO_NAME },
    subject: "Your order",
    text: "Shipped.",
    headers: {},
    attachments: [],
    ...overrides,
  };
}

const sender = { email: "noreply@shop.example", name: FROM_NAME };
const withAttachment = {
  attachments: [{ filename: "invoice.pdf", content: Buffer.from("%PDF").toString("base64") }],
};

function addresses(field: AddressObject | AddressObject[] | undefined) {
  return (Array.isArray(field) ? field : field ? [field] : []).flatMap((f) => f.value);
}

describe.each([
  ["text and HTML", { html: "<p>Shipped.</p>" }],
  ["with an attachment", withAttachment],
])("display names that try to inject addresses (%s)", (_, overrides) => {
  it("give mailparser exactly the intended address and name back", async () => {
    const parsed = await simpleParser(await composeMessage(email(overrides), sender));
    expect(addresses(parsed.from)).toEqual([{ address: "noreply@shop.example", name: FROM_NAME }]);
    expect(addresses(parsed.to)).toEqual([{ address: "juergen@example.org", name: TO_NAME }]);
  });

  it("give Python's email package exactly the intended address and name back, without defects", async () => {
    const read = readWithPython(await composeMessage(email(overrides), sender));
    expect(read.from).toEqual([{ address: "noreply@shop.example", name: FROM_NAME }]);
    expect(read.to).toEqual([{ address: "juergen@example.org", name: TO_NAME }]);
    expect(read.defects).toEqual([]);
  });
});

describe("display names", () => {
  it("are quoted when they are ASCII, specials and quotes included, and encoded otherwise", async () => {
    const raw = await composeMessage(
      email({ to: { email: "a@example.org", name: 'Eve "admin" <root@x>, \\' } }),
      { email: "noreply@shop.example", name: "Plain Name" },
    );
    const source = raw.toString();
    expect(source).toContain('\r\nTo: "Eve \\"admin\\" <root@x>, \\\\" <a@example.org>\r\n');
    expect(source).toMatch(/^From: "Plain Name" <noreply@shop\.example>\r$/m);
    expect(readWithPython(raw).to).toEqual([{ address: "a@example.org", name: 'Eve "admin" <root@x>, \\' }]);
  });

  it("of any text give mailparser the one intended address and the name", async () => {
    const name = fc
      .array(
        fc.oneof(
          fc.constantFrom("<", ">", "@", ",", ";", ":", '"', "\\", "(", ")", ".", "ü", "日本"),
          fc.string(),
        ),
      )
      .map((parts) => parts.join("").trim())
      .filter((name) => name.length > 0 && name.length <= 255 && !/[\r\n]/.test(name));
    await fc.assert(
      fc.asyncProperty(name, async (to) => {
        const parsed = await simpleParser(
          await composeMessage(email({ to: { email: "a@example.org", name: to } }), sender),
        );
        expect(addresses(parsed.to)).toEqual([{ address: "a@example.org", name: to }]);
      }),
      { numRuns: 200 },
    );
  });
});
