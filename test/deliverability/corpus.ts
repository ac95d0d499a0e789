import { randomBytes } from "node:crypto";

/** A job for POST /v1/emails that is hard to put on the wire right, and what it tests. */
export interface CorpusJob {
  name: string;
  job: Record<string, unknown>;
}

const base64 = (text: string | Buffer) => Buffer.from(text).toString("base64");
const LONG_LINE = "0123456789".repeat(200);
const SMUGGLING = "a\r.\r\nMAIL FROM:<x@evil.example>\nb\r\n.\n";

/**
 * Every wire-format hazard the composer handles, one per job (plus a plain one to compare with):
 * header text to encode, lines to wrap or escape, line ends to make canonical, file names to
 * encode as parameters, and a body large enough to take the slow paths.
 */
export function corpus(): CorpusJob[] {
  return [
    { name: "plain text", job: { subject: "Your booking", text: "Hello Ada,\n\nsee you soon." } },
    {
      name: "non-ASCII subject and display names",
      job: {
        subject: "Grüße aus Zürich — 予約 ✉️ bestätigt",
        text: "Grüße, José",
        html: "<p>Grüße, <b>José</b> 🎉</p>",
        from: { email: "noreply@shop.example", name: "Ferienhaus Übersee" },
        recipient_name: "José Müller-Lüdenscheidt",
        reply_to: { email: "help@shop.example", name: "Hilfe & Support (Ü)" },
      },
    },
    {
      name: "subject and names that look like encoded-words",
      job: {
        subject: "Re: =?UTF-8?B?UGFzc3dvcnQ=?= =?ISO-8859-1?Q?f=FCr?= you",
        text: "=?UTF-8?Q?not_a_word?= in the body stays as it is",
        from: { email: "noreply@shop.example", name: "=?UTF-8?Q?Security=20Team?=" },
        recipient_name: '=?UTF-8?B?QWRh?= "quoted" \\ backslash',
      },
    },
    {
      name: "a line of 2,000 ASCII characters",
      job: { subject: "long line", text: `start\n${LONG_LINE}\nend`, html: `<p>${LONG_LINE}</p>` },
    },
    {
      name: 'lines starting with "." and "From "',
      job: {
        subject: "dots",
        text: ".\n..two dots\n.hidden\nFrom here on\n>From quoted\n.",
        html: "<p>\n.\n..two\nFrom here\n</p>",
      },
    },
    {
      name: "bare LF and bare CR in text and HTML",
      job: { subject: "line ends", text: SMUGGLING, html: `<p>${SMUGGLING}</p>\r` },
    },
    {
      name: "HTML only",
      job: { subject: "html only", html: "<h1>Receipt</h1><p>Total: <b>12,00 €</b></p>" },
    },
    {
      name: "text only, non-ASCII",
      job: { subject: "text only", text: "Привет, мир! Это письмо только с текстом.\nВторая строка." },
    },
    {
      name: "custom headers, one of 990 characters",
      job: {
        subject: "headers",
        text: "headers",
        headers: {
          "X-Campaign": "spring-2026",
          "X-Long": "x".repeat(990),
          "X-Words": "word ".repeat(198).trim(),
          "X-Note": "Grüße =?UTF-8?Q?x?=",
          "List-Unsubscribe": "<https://shop.example/unsubscribe?u=ada%40example.org>",
        },
      },
    },
    {
      name: "attachments with non-ASCII and encoded-word-looking file names",
      job: {
        subject: "attachments",
        text: "see attached",
        html: "<p>see attached</p>",
        attachments: [
          {
            filename: "Rechnung März 2026 — Übersicht.pdf",
            content: base64("%PDF-1.4 fake"),
            content_type: "application/pdf",
          },
          { filename: "日本語のファイル名.txt", content: base64("テキスト\n"), content_type: "text/plain" },
          { filename: "=?UTF-8?B?ZXZpbC5leGU=?=.txt", content: base64("not evil") },
          { filename: `${"Ü".repeat(120)} "quoted"; name.bin`, content: base64(randomBytes(64)) },
          { filename: "plain-name.csv", content: base64("a,b\r\n1,2\r\n") },
        ],
      },
    },
    {
      name: "a 5 MB attachment",
      job: {
        subject: "big",
        text: "a big file",
        attachments: [
          {
            filename: "big.bin",
            content: randomBytes(5 * 1024 * 1024).toString("base64"),
            content_type: "application/octet-stream",
          },
        ],
      },
    },
  ];
}
