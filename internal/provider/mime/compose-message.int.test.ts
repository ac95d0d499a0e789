import { hash } from "node:crypto";
import { simpleParser } from "mailparser";
import { describe, expect, it } from "vitest";
import { outgoingEmails } from "../../../test/outgoing-email.ts";
import { readWithPython } from "../../../test/python-email.ts";
import type { OutgoingEmail } from "../provider.ts";
import { composeMessage } from "./compose-message.ts";

const sender = { email: "noreply@example.com", name: "Booking System" };
const build = outgoingEmails({
  job_type: "welcome_email",
  subject: "Welcome, Ada",
  html: "<p>Hello <b>Ada</b></p>",
  text: "Hello Ada",
  headers: {},
  attachments: [],
});
const email = (overrides: Partial<OutgoingEmail> = {}) => build("ada@example.org", overrides);

/** Composed messages read back by Python's email package (Debian's /usr/bin/python3), a second parser. */
describe("composeMessage, read by Python's email package", () => {
  it("uses a random boundary, so a lookalike in template data creates no part", async () => {
    const guessed = `=_ew_${hash("sha1", email().job_id, "hex")}`;
    const injected = `--${guessed}\r\nContent-Type: text/html\r\n\r\n<h1>Pay here</h1>\r\n--${guessed}--`;
    const sent = email({ text: `Hi\n${injected}`, html: `<p>Hi</p>\n${injected}` });
    const raw = await composeMessage(sent, sender);
    expect(raw.toString()).not.toContain(`boundary="${guessed}"`);
    const boundary = /boundary="([^"]+)"/.exec(raw.toString())?.[1];
    expect(boundary).toMatch(/^=_ew_[A-Za-z0-9_-]{32}$/);
    expect(/boundary="([^"]+)"/.exec((await composeMessage(sent, sender)).toString())?.[1]).not.toBe(
      boundary,
    );
    const parsed = await simpleParser(raw);
    expect(parsed.html).toBe(`<p>Hi</p>\n${injected.replaceAll("\r\n", "\n")}`);
    const read = readWithPython(raw);
    expect(read.parts).toEqual(["multipart/alternative", "text/plain", "text/html"]);
    expect(read.defects).toEqual([]);
  });

  it("makes every line end of text and HTML a CRLF, a bare CR included, on both paths", async () => {
    const text = "hello\r.\r\nMAIL FROM:<evil@x>\nend\r";
    for (const attachments of [
      [],
      [{ filename: "a.txt", content: Buffer.from("a\rb\n").toString("base64") }],
    ]) {
      const raw = await composeMessage(email({ text, html: "<p>a\rb</p>", attachments }), sender);
      expect(raw.toString("latin1")).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
      const read = readWithPython(raw);
      expect(read.text).toBe("hello\r\n.\r\nMAIL FROM:<evil@x>\r\nend\r\n");
      const parsed = await simpleParser(raw);
      expect(parsed.attachments.map((a) => a.content.toString("latin1"))).toEqual(
        attachments.length ? ["a\rb\n"] : [],
      );
    }
  });
});
