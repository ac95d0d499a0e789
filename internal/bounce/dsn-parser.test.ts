import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { attributeBounce } from "./attribution.ts";
import { parseBounce } from "./dsn-parser.ts";
import { ReturnPath } from "./return-path.ts";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
/** As the message arrives over SMTP: every line ending CRLF. */
const overSmtp = (raw: Buffer) => Buffer.from(raw.toString("latin1").replace(/\r?\n/g, "\r\n"), "latin1");
const returnPath = new ReturnPath("bounces@bounces.shop.example");

/** What each fixture must yield: the failed recipient, and the job the bounce is attributed to. */
const cases = [
  {
    fixture: "postfix-rfc3464.eml",
    format: "rfc3464",
    recipient: "nobody@example.org",
    original_recipient: "nobody@example.org",
    status: "5.1.1",
    action: "failed",
    kind: "hard",
    diagnostic:
      "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table",
    job_id: "0b5a3c1e-7d2f-4c7a-9e31-5f8b2d6a4c10",
    via: "verp_to",
  },
  {
    fixture: "postfix-delayed.eml",
    format: "rfc3464",
    recipient: "slow@example.net",
    original_recipient: "slow@example.net",
    status: "4.4.1",
    action: "delayed",
    kind: "soft",
    diagnostic: "connect to mx.example.net[192.0.2.25]:25: Connection timed out",
    job_id: "0b5a3c1e-7d2f-4c7a-9e31-5f8b2d6a4c10",
    via: "verp_to",
  },
  {
    fixture: "exim.eml",
    format: "text",
    recipient: "grace@example.net",
    original_recipient: undefined,
    status: "5.1.1",
    action: "failed",
    kind: "hard",
    diagnostic: "550 5.1.1 <grace@example.net>: Recipient address rejected: User unknown",
    job_id: "3c9d8e7f-1a2b-4c3d-8e4f-5a6b7c8d9e01",
    via: "job_header",
  },
  {
    fixture: "qmail.eml",
    format: "text",
    recipient: "linus@example.com",
    original_recipient: undefined,
    status: "5.1.1",
    action: "failed",
    kind: "hard",
    diagnostic: "Sorry, no mailbox here by that name. (#5.1.1)",
    job_id: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
    via: "message_id",
  },
  {
    fixture: "sendmail.eml",
    format: "text",
    recipient: "alan@example.edu",
    original_recipient: undefined,
    status: "5.1.1",
    action: "failed",
    kind: "hard",
    diagnostic: "(reason: 550 5.1.1 <alan@example.edu>... User unknown)",
    job_id: "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
    via: "job_header",
  },
  {
    fixture: "office365-ndr.eml",
    format: "text",
    recipient: "margaret@contoso.com",
    original_recipient: undefined,
    status: "5.1.10",
    action: "failed",
    kind: "hard",
    diagnostic:
      "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'",
    job_id: "9c0d1e2f-3a4b-4c5d-9e6f-7a8b9c0d1e2f",
    via: "job_header",
  },
  {
    fixture: "gmail.eml",
    format: "text",
    recipient: "hedy.lamarr.1914@gmail.com",
    original_recipient: undefined,
    status: "5.1.1",
    action: "failed",
    kind: "hard",
    diagnostic:
      "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. 41be03b00d2f7-7db1b8f6b2bsi12345678a12.301 - gsmtp",
    job_id: "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
    via: "message_id",
  },
] as const;

describe("parseBounce", () => {
  it.each(
    cases.flatMap((c) => [
      { ...c, endings: "LF" },
      { ...c, endings: "CRLF" },
    ]),
  )("reads $fixture ($endings) as a $kind bounce of $recipient ($status) for its job", (expected) => {
    const raw = fixture(expected.fixture);
    const bounce = parseBounce(expected.endings === "CRLF" ? overSmtp(raw) : raw);
    expect(bounce.is_bounce).toBe(true);
    expect(bounce.format).toBe(expected.format);
    expect(bounce.recipients).toEqual([
      {
        recipient: expected.recipient,
        original_recipient: expected.original_recipient,
        action: expected.action,
        status: expected.status,
        kind: expected.kind,
        diagnostic: expected.diagnostic,
      },
    ]);
    expect(attributeBounce(bounce, { rcptTo: ["bounces@bounces.shop.example"] }, returnPath)).toEqual({
      job_id: expected.job_id,
      via: expected.via,
    });
  });

  it("leaves out recipients a report says were relayed or delivered", () => {
    const bounce = parseBounce(fixture("postfix-rfc3464.eml"));
    expect(bounce.recipients.map((r) => r.recipient)).not.toContain("ada@example.org");
  });

  it("takes the job from the VERP envelope recipient before anything the bounce quotes", () => {
    const bounce = parseBounce(fixture("exim.eml"));
    const verp = "bounces+0b5a3c1e-7d2f-4c7a-9e31-5f8b2d6a4c10@Bounces.Shop.Example";
    expect(attributeBounce(bounce, { rcptTo: [verp] }, returnPath)).toEqual({
      job_id: "0b5a3c1e-7d2f-4c7a-9e31-5f8b2d6a4c10",
      via: "verp_recipient",
    });
  });

  it("does not blame an address the bounce's help text mentions far from any status code", () => {
    const raw = Buffer.from(
      [
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>",
        "Subject: Undelivered Mail Returned to Sender",
        "",
        "<nobody@example.org>: host mx.example.org said: 550 5.1.1 User unknown",
        "",
        "Questions? Write to helpdesk@example.org.",
        "",
      ].join("\r\n"),
    );
    expect(parseBounce(raw).recipients.map((r) => r.recipient)).toEqual(["nobody@example.org"]);
  });

  it("does not take an out-of-office reply, dates and phone numbers included, for a bounce", () => {
    const bounce = parseBounce(fixture("auto-reply.eml"));
    expect(bounce.is_bounce).toBe(false);
    expect(bounce.recipients).toEqual([]);
  });

  it("reads bytes that are no message at all as no bounce, without throwing", () => {
    const bounce = parseBounce(fixture("garbage.eml"));
    expect(bounce).toMatchObject({ is_bounce: false, recipients: [] });
    expect(attributeBounce(bounce, { rcptTo: ["bounces@bounces.shop.example"] }, returnPath)).toBeUndefined();
  });

  it("recognises a bounce that names no status code, and reports no recipient for it", () => {
    const raw = Buffer.from(
      "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nSubject: Undelivered Mail\r\n\r\nSomething went wrong with nobody@example.org.\r\n",
    );
    expect(parseBounce(raw)).toMatchObject({ is_bounce: true, format: "text", recipients: [] });
  });

  it("reads a report whose delivery-status part is base64 and whose Status is missing from the Diagnostic-Code", () => {
    const status = Buffer.from(
      "Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; <gone@example.org>\r\nAction: failed\r\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n",
    ).toString("base64");
    const raw = Buffer.from(
      [
        "From: MAILER-DAEMON@mx.example.org",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        "",
        "--b",
        "Content-Type: message/delivery-status",
        "Content-Transfer-Encoding: base64",
        "",
        status,
        "--b--",
        "",
      ].join("\r\n"),
    );
    expect(parseBounce(raw).recipients).toEqual([
      {
        recipient: "gone@example.org",
        original_recipient: undefined,
        action: "failed",
        status: "5.2.2",
        kind: "hard",
        diagnostic: "552 5.2.2 Mailbox full",
      },
    ]);
  });

  it("counts a 5.x.x status that is only delayed as soft", () => {
    const raw = Buffer.from(
      [
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        "",
        "--b",
        "Content-Type: message/delivery-status",
        "",
        "Final-Recipient: rfc822; later@example.org",
        "Action: delayed",
        "Status: 5.0.0",
        "--b--",
      ].join("\r\n"),
    );
    expect(parseBounce(raw).recipients[0]).toMatchObject({ kind: "soft", action: "delayed" });
  });
});
