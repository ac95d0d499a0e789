import fc from "fast-check";
import { simpleParser } from "mailparser";
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

/** C0 controls but TAB, and DEL: intake refuses them in header text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f]/g;
/** Text intake accepts for a header (subject, display name, file name): no control but TAB. */
const headerText = (maxLength: number) =>
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          " ",
          "  ",
          "\t",
          "=?",
          "?=",
          "=?UTF-8?B?QQ==?=",
          '"',
          "\\",
          "<a@b.c>",
          ",;:",
          "ü",
          "日本",
          "✉️",
        ),
        fc.string({ unit: "grapheme", maxLength: 8 }),
        fc.constant("y".repeat(80)),
      ),
      { maxLength },
    )
    .map((pieces) => pieces.join("").replace(CONTROLS, ""));
/** Body text intake accepts: anything but NUL, line ends of every kind included. */
const bodyText = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "\r",
        "\n",
        "\r\n",
        ".",
        "From ",
        "=",
        " \r\n",
        "\t",
        "ü",
        "日本語",
        "x".repeat(1_200),
        "€".repeat(400),
      ),
      fc.string({ unit: "grapheme", maxLength: 20 }),
    ),
    { maxLength: 25 },
  )
  .map((pieces) => pieces.join("").replaceAll("\u0000", ""));

const decodableEmails = fc.record({
  job_id: fc.uuid(),
  job_type: fc.constant("property"),
  from: fc.record({ email: fc.constant("shop@example.com"), name: headerText(6) }),
  to: fc.record({ email: fc.constant("ada@example.org"), name: headerText(6) }),
  subject: headerText(10),
  text: bodyText,
  html: fc.option(bodyText, { nil: undefined }),
  headers: fc.constant({}),
  attachments: fc.array(
    fc.record({
      filename: headerText(6)
        .map((name) => name.replace(/[/\\]/g, "_").trim())
        .filter((name) => name !== ""),
      content: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString("base64")),
      content_type: fc.constantFrom("application/pdf", "image/png", undefined),
    }),
    { maxLength: 2 },
  ),
}) satisfies fc.Arbitrary<OutgoingEmail>;

/** Line ends as a reader gives text back: LF. */
const lf = (text: string) => text.replace(/\r\n?/g, "\n");
/** What header unfolding gives back (RFC 5322 §2.2.3): runs of whitespace may read as one space, ends trimmed. */
const unfolded = (text: string) => text.trim();

describe("a composed message decodes to what was put in", () => {
  it("gives mailparser back the subject, names, text, HTML and attachment names and bytes", async () => {
    await fc.assert(
      fc.asyncProperty(decodableEmails, async (email) => {
        const raw = await composeMessage(email, { email: "noreply@example.com" });
        const source = raw.toString("latin1");
        expect(source).not.toMatch(BARE_LINE_BREAK);
        for (const line of source.split("\r\n")) expect(line.length).toBeLessThanOrEqual(998);

        const parsed = await simpleParser(raw);
        expect(unfolded(parsed.subject ?? "")).toBe(unfolded(email.subject));
        expect(unfolded(parsed.from?.value[0]?.name ?? "")).toBe(unfolded(email.from?.name ?? ""));
        const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
        expect(unfolded(to?.value[0]?.name ?? "")).toBe(unfolded(email.to.name ?? ""));
        // SMTP ends a message with a line end, so a lone text part may carry one more than it was
        // given; and mailparser reads an empty part as one line end.
        const lone = email.html === undefined && email.attachments.length === 0;
        const text = parsed.text ?? "";
        const expected = lf(email.text);
        expect(lone || expected === "" ? text.replace(/\n$/, "") : text).toBe(
          lone ? expected.replace(/\n$/, "") : expected,
        );
        if (email.html !== undefined) expect(parsed.html || "").toBe(lf(email.html));
        expect(parsed.attachments.map((a) => [a.filename, a.content.toString("base64")])).toEqual(
          email.attachments.map((a) => [a.filename, a.content]),
        );
      }),
      { numRuns: 200 },
    );
  });
});
