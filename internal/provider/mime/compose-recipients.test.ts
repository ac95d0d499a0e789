import { simpleParser } from "mailparser";
import { describe, expect, it } from "vitest";
import type { OutgoingEmail } from "../provider.ts";
import { composeMessage } from "./compose-message.ts";

const sender = { email: "noreply@example.com" };

function email(overrides: Partial<OutgoingEmail> = {}): OutgoingEmail {
  return {
    job_id: "11111111-2222-4333-8444-555555555555",
    job_type: "invoice",
    to: { email: "ada@example.org", name: "Ada Lovelace" },
    subject: "Invoice",
    text: "Attached",
    headers: {},
    attachments: [],
    ...overrides,
  };
}

const headerBlock = (raw: Buffer) => raw.toString("latin1").split("\r\n\r\n")[0] ?? "";

describe("composeMessage with Cc and Bcc", () => {
  it("names the Cc recipients in a Cc header a real parser reads back, names and all", async () => {
    const cc = [
      { email: "bob@example.org", name: "Bob, the builder" },
      { email: "zoe@example.org", name: "Zoë" },
      { email: "carol@example.org" },
    ];
    const parsed = await simpleParser(await composeMessage(email({ cc }), sender));
    const field = Array.isArray(parsed.cc) ? parsed.cc : [parsed.cc];
    expect(field.flatMap((f) => f?.value ?? [])).toEqual([
      { address: "bob@example.org", name: "Bob, the builder" },
      { address: "zoe@example.org", name: "Zoë" },
      { address: "carol@example.org", name: "" },
    ]);
  });

  it("puts Bcc recipients nowhere in the message's bytes", async () => {
    const raw = await composeMessage(
      email({
        cc: [{ email: "bob@example.org" }],
        bcc: [{ email: "secret-audit@example.org", name: "Audit" }],
      }),
      sender,
    );
    expect(headerBlock(raw)).not.toMatch(/^bcc:/im);
    expect(raw.toString("latin1")).not.toContain("secret-audit");
    expect(raw.toString("latin1")).not.toContain("Audit");
  });

  it("folds a long Cc list one mailbox a line, every line within 78 characters", async () => {
    const cc = Array.from({ length: 49 }, (_, i) => ({
      email: `recipient-${i}@example.org`,
      name: `Person ${i}`,
    }));
    const raw = await composeMessage(email({ cc }), sender);
    const ccLines = headerBlock(raw)
      .split(/\r\n(?! )/)
      .find((field) => field.startsWith("Cc:"));
    expect(ccLines?.split("\r\n")).toHaveLength(49);
    for (const line of ccLines?.split("\r\n") ?? []) expect(line.length).toBeLessThanOrEqual(78);
    const parsed = await simpleParser(raw);
    const field = Array.isArray(parsed.cc) ? parsed.cc : [parsed.cc];
    expect(field.flatMap((f) => f?.value ?? []).map((m) => m.address)).toEqual(cc.map((m) => m.email));
  });

  it("writes no Cc header for a job without Cc recipients", async () => {
    expect(headerBlock(await composeMessage(email({ cc: [] }), sender))).not.toMatch(/^cc:/im);
  });
});
