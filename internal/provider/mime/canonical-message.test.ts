import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { OutgoingEmail } from "../provider.ts";
import { dataPayload } from "../smtp/dot-stuffing.ts";
import { composeMessage } from "./compose-message.ts";

/** The pieces the attacks are made of, mixed with arbitrary text. */
const piece = fc.oneof(
  fc.constantFrom(
    "\r",
    "\n",
    "\r\n",
    ".",
    "\r.\r\n",
    "\n.\n",
    "\r\n.\r\n",
    '<>@,;:"\\',
    "--=_ew_",
    "=?UTF-8?B?",
    " ",
  ),
  fc.constantFrom("ü", "日本", "✉️", "\u0000", "\t", "x".repeat(1_200)),
  fc.string({ unit: "binary", maxLength: 12 }),
);
const text = (maxLength: number) => fc.array(piece, { maxLength }).map((pieces) => pieces.join(""));

const attachment = fc.record({
  filename: fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }).map((n) => n.replace(/[/\\]/g, "_")),
  content: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("base64")),
  content_type: fc.constantFrom("application/pdf", "text/plain", "image/png", undefined),
});

const emails: fc.Arbitrary<OutgoingEmail> = fc.record({
  job_id: fc.uuid(),
  job_type: fc.constant("property"),
  from: fc.option(fc.record({ email: fc.constant("shop@example.com"), name: text(8) }), { nil: undefined }),
  to: fc.record({ email: fc.constant("ada@example.org"), name: text(8) }),
  reply_to: fc.option(fc.record({ email: fc.constant("help@example.com"), name: text(4) }), {
    nil: undefined,
  }),
  subject: text(10),
  text: text(30),
  html: fc.option(text(30), { nil: undefined }),
  headers: fc.dictionary(fc.constantFrom("X-Tag", "X-Campaign"), text(6)),
  attachments: fc.array(attachment, { maxLength: 2 }),
});

const BARE_LINE_BREAK = /\r(?!\n)|(?<!\r)\n/;

describe("a composed message is canonical, on every path", () => {
  it("has CRLF line ends only, no line over 998 octets, and one end of data once dot-stuffed", async () => {
    await fc.assert(
      fc.asyncProperty(emails, async (email) => {
        const raw = await composeMessage(email, { email: "noreply@example.com", name: "Sender" });
        const source = raw.toString("latin1");
        expect(source).not.toMatch(BARE_LINE_BREAK);
        for (const line of source.split("\r\n")) expect(line.length).toBeLessThanOrEqual(998);
        const data = Buffer.concat(dataPayload(raw)).toString("latin1");
        expect(data).not.toMatch(BARE_LINE_BREAK);
        expect(data.indexOf("\r\n.\r\n")).toBe(data.length - 5);
      }),
      { numRuns: 150 },
    );
  });
});
