import { simpleParser } from "mailparser";
import { describe, expect, it } from "vitest";
import type { OutgoingEmail } from "../provider.ts";
import { composeMessage } from "./compose-message.ts";

const sender = { email: "noreply@example.com", name: "Booking System" };

function email(overrides: Partial<OutgoingEmail> = {}): OutgoingEmail {
  return {
    job_id: "11111111-2222-4333-8444-555555555555",
    job_type: "welcome_email",
    to: { email: "ada@example.org", name: "Ada Lovelace" },
    subject: "Welcome, Ada",
    html: "<p>Hello <b>Ada</b></p>",
    text: "Hello Ada\nSecond line",
    headers: { "X-Campaign": "spring" },
    attachments: [],
    ...overrides,
  };
}

describe("composeMessage", () => {
  it("writes a message a real parser reads back field for field", async () => {
    const raw = await composeMessage(
      email({ reply_to: { email: "help@example.com" } }),
      sender,
      new Date("2026-11-23T10:00:00Z"),
    );
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value).toEqual([{ address: "noreply@example.com", name: "Booking System" }]);
    expect(parsed.to && !Array.isArray(parsed.to) && parsed.to.value).toEqual([
      { address: "ada@example.org", name: "Ada Lovelace" },
    ]);
    expect(parsed.replyTo?.value[0]?.address).toBe("help@example.com");
    expect(parsed.subject).toBe("Welcome, Ada");
    expect(parsed.messageId).toBe("<11111111-2222-4333-8444-555555555555@example.com>");
    expect(parsed.date?.toISOString()).toBe("2026-11-23T10:00:00.000Z");
    expect(parsed.text?.trim()).toBe("Hello Ada\nSecond line");
    expect(parsed.html).toBe("<p>Hello <b>Ada</b></p>");
    expect(parsed.headers.get("x-campaign")).toBe("spring");
    expect(parsed.headers.get("x-email-job-id")).toBe("11111111-2222-4333-8444-555555555555");
    expect(raw.toString()).toContain("\r\nContent-Transfer-Encoding: 7bit\r\n");
    expect(
      raw
        .toString()
        .split("\r\n")
        .every((line) => line.length <= 998),
    ).toBe(true);
  });

  it("encodes non-ASCII names, subjects and bodies so they survive any relay", async () => {
    const raw = await composeMessage(
      email({
        to: { email: "jose@example.org", name: "José Müller" },
        subject: "Your booking 🎉 is confirmed — see you in Zürich",
        html: "<p>Grüße, José</p>",
        text: "Grüße, José",
      }),
      { email: "noreply@example.com", name: "Ferienhaus Übersee" },
    );
    expect(raw.every((byte) => byte < 0x80)).toBe(true);
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe("Your booking 🎉 is confirmed — see you in Zürich");
    expect(parsed.from?.value[0]?.name).toBe("Ferienhaus Übersee");
    expect(parsed.to && !Array.isArray(parsed.to) && parsed.to.value[0]?.name).toBe("José Müller");
    expect(parsed.text?.trim()).toBe("Grüße, José");
    expect(parsed.html).toBe("<p>Grüße, José</p>");
  });

  it("quotes display names with specials, folds long headers, and sends text-only mail as one part", async () => {
    const subject = `A long subject ${"word ".repeat(40)}end`;
    const raw = await composeMessage(
      email({ html: undefined, subject, to: { email: "a@example.org", name: "Doe, Jane (Ops)" } }),
      sender,
    );
    const source = raw.toString();
    expect(
      source.split("\r\n").every((line) => line.length <= 78 || !line.includes(":") || line.startsWith(" ")),
    ).toBe(true);
    expect(source).not.toContain("multipart");
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe(subject);
    expect(parsed.to && !Array.isArray(parsed.to) && parsed.to.value[0]).toEqual({
      address: "a@example.org",
      name: "Doe, Jane (Ops)",
    });
    expect(parsed.html).toBe(false);
  });

  it("shows a subject and display names that look like encoded-words as typed, not decoded", async () => {
    const looksEncoded = "=?UTF-8?Q?Security=20Team?= <security@bank.example>";
    const raw = await composeMessage(
      email({
        subject: `Re: =?UTF-8?B?${Buffer.from("Passwort").toString("base64")}?=`,
        to: { email: "a@example.org", name: looksEncoded },
      }),
      { email: "noreply@shop.example", name: looksEncoded },
    );
    const source = raw.toString();
    expect(source).not.toContain("Security=20Team");
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe(`Re: =?UTF-8?B?${Buffer.from("Passwort").toString("base64")}?=`);
    expect(parsed.from?.value).toEqual([{ address: "noreply@shop.example", name: looksEncoded }]);
    expect(parsed.to && !Array.isArray(parsed.to) && parsed.to.value).toEqual([
      { address: "a@example.org", name: looksEncoded },
    ]);
  });

  it("writes attachments as parts after the content, with their bytes and type", async () => {
    const raw = await composeMessage(
      email({
        attachments: [
          {
            filename: "receipt.pdf",
            content: Buffer.from("%PDF-1.4").toString("base64"),
            content_type: "application/pdf",
          },
        ],
      }),
      sender,
    );
    const parsed = await simpleParser(raw);
    expect(parsed.attachments.map((a) => [a.filename, a.contentType, a.content.toString()])).toEqual([
      ["receipt.pdf", "application/pdf", "%PDF-1.4"],
    ]);
    expect(parsed.subject).toBe("Welcome, Ada");
  });

  it("writes non-ASCII and encoded-word-looking file names as RFC 2231 parameters, never encoded-words", async () => {
    const names = ["Rechnung März — Übersicht.pdf", "日本語のファイル名.txt", "=?UTF-8?B?ZXZpbC5leGU=?=.txt"];
    const raw = await composeMessage(
      email({ attachments: names.map((filename) => ({ filename, content: "eA==" })) }),
      sender,
    );
    const source = raw.toString();
    const parameters = source.split("\r\n").filter((line) => /^ (?:file)?name/.test(line));
    expect(parameters.every((line) => /^ (?:file)?name\*(?:\d+\*)?=/.test(line))).toBe(true);
    expect(parameters.join("")).not.toContain("=?");
    expect((await simpleParser(raw)).attachments.map((a) => a.filename)).toEqual(names);
  });

  it("sends text 7bit when it fits, quoted-printable when mostly ASCII, base64 when mostly not", async () => {
    const encodings = async (text: string) => {
      const raw = await composeMessage(email({ text, html: undefined }), sender);
      const parsed = await simpleParser(raw);
      expect(parsed.text?.replace(/\n$/, "")).toBe(text);
      return /Content-Transfer-Encoding: (\S+)/.exec(raw.toString())?.[1];
    };
    expect(await encodings("plain words")).toBe("7bit");
    expect(await encodings(`a line of 2,000 characters: ${"0123456789".repeat(200)}`)).toBe(
      "quoted-printable",
    );
    expect(await encodings("Grüße aus Zürich, bis bald und vielen Dank für die Buchung")).toBe(
      "quoted-printable",
    );
    expect(await encodings("Привет, мир! Это письмо только с текстом.")).toBe("base64");
  });

  it("folds a custom header of 990 characters without a space onto one line, and others at single spaces", async () => {
    const raw = await composeMessage(
      email({ headers: { "X-Long": "x".repeat(990), "X-Words": `a\t${"word  ".repeat(40)}end` } }),
      sender,
    );
    const lines = raw.toString().split("\r\n");
    expect(lines).toContain(`X-Long: ${"x".repeat(990)}`);
    const continuation = lines.filter((line) => /^\s/.test(line));
    expect(continuation.every((line) => /^ \S/.test(line))).toBe(true);
    expect(lines.every((line) => line.length <= 998)).toBe(true);
  });
});
