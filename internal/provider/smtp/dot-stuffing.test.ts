import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dataPayload } from "./dot-stuffing.ts";

/** The payload as bytes, latin1 so every byte is one character and nothing is decoded. */
function payload(message: Buffer | string): string {
  return Buffer.concat(dataPayload(Buffer.from(message))).toString("latin1");
}

/** What a receiver does (RFC 5321 §4.5.2): drops the end-of-data line and one dot from each line's start. */
function unstuff(data: string): string {
  expect(data.endsWith("\r\n.\r\n")).toBe(true);
  return data.slice(0, -3).replace(/(^|\n)\./g, "$1");
}

describe("dataPayload", () => {
  it("doubles a dot that starts the first line", () => {
    expect(payload(".hidden\r\nrest\r\n")).toBe("..hidden\r\nrest\r\n.\r\n");
  });

  it("doubles the dot after every CRLF, a line of just a dot included", () => {
    expect(payload("a\r\n.b\r\n..c\r\n.\r\nd\r\n")).toBe("a\r\n..b\r\n...c\r\n..\r\nd\r\n.\r\n");
  });

  it("ends a message that does not end in CRLF with one before the end-of-data line", () => {
    expect(payload("no newline")).toBe("no newline\r\n.\r\n");
    expect(payload("a\r\n.")).toBe("a\r\n..\r\n.\r\n");
  });

  it("sends an empty message as an empty line and the end-of-data line", () => {
    expect(payload("")).toBe("\r\n.\r\n");
  });

  it("makes every bare CR and bare LF a CRLF first, so a dot after either is stuffed", () => {
    expect(payload("a\n.b\r\n")).toBe("a\r\n..b\r\n.\r\n");
    expect(payload("a\r.b\r\n")).toBe("a\r\n..b\r\n.\r\n");
    expect(payload("a\n")).toBe("a\r\n.\r\n");
    expect(payload("a\r")).toBe("a\r\n.\r\n");
    expect(payload("\n\r")).toBe("\r\n\r\n.\r\n");
  });

  it("does not let a bare CR before a dot end the data early (SMTP smuggling)", () => {
    const data = payload("Subject: s\r\n\r\nhello\r.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n");
    expect(data).toBe(
      "Subject: s\r\n\r\nhello\r\n..\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n.\r\n",
    );
    expect(data.match(/\r\n\.\r\n/g)).toHaveLength(1);
    expect(data).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
  });

  it("passes a message that needs no stuffing on without copying it", () => {
    const message = Buffer.from("Subject: s\r\n\r\nno dots at line starts. None.\r\n");
    expect(dataPayload(message)[0]).toBe(message);
  });

  it("leaves UTF-8 and every byte but CR and LF as it is, dots at line starts aside", () => {
    expect(payload("Grüße, 日本 ✉\r\n.ünïcode\r\n")).toBe(
      Buffer.from("Grüße, 日本 ✉\r\n..ünïcode\r\n.\r\n").toString("latin1"),
    );
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString("latin1");
    const canonical = everyByte.replace("\n", "\r\n").replace(/\r(?!\n)/, "\r\n");
    expect(payload(Buffer.from(everyByte, "latin1"))).toBe(`${canonical}\r\n.\r\n`);
    const dotAfterLf = everyByte.replace("\n", "\n.");
    expect(payload(Buffer.from(dotAfterLf, "latin1"))).toBe(
      `${canonical.replace("\r\n", "\r\n..")}\r\n.\r\n`,
    );
  });

  it("stuffs a large message with many dotted lines", () => {
    const line = ".a dotted line of some length, as a quoted-printable body might have\r\n";
    const message = Buffer.from(line.repeat(30_000));
    const data = Buffer.concat(dataPayload(message));
    expect(data.length).toBe(message.length + 30_000 + 3);
    expect(data.subarray(0, line.length + 1).toString()).toBe(`.${line}`);
    expect(unstuff(data.toString("latin1"))).toBe(message.toString("latin1"));
  });

  it("never ends the data early, has no bare CR or LF, and gives back the canonical message once unstuffed", () => {
    const byte = fc.oneof(fc.constantFrom(0x2e, 0x0d, 0x0a), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 200 }), (values) => {
        const message = Buffer.from(values)
          .toString("latin1")
          .replace(/\r\n|\r|\n/g, "\r\n");
        const data = payload(Buffer.from(values));
        // Only the end-of-data line ends the data, whichever line end a server goes by.
        expect(data.indexOf("\r\n.\r\n")).toBe(data.length - 5);
        expect(data).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
        expect(unstuff(data)).toBe(message.endsWith("\r\n") ? message : `${message}\r\n`);
      }),
    );
  });
});
