import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { relaxedBody, relaxedHeader, splitMessage } from "./canonicalization.ts";

describe("relaxed canonicalisation", () => {
  // The worked example of RFC 6376 §3.4.6.
  const message = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";

  it("turns the RFC's example headers into a:X and b:Y Z", () => {
    const { fields } = splitMessage(message);
    expect(fields.map(relaxedHeader)).toEqual(["a:X", "b:Y Z"]);
  });

  it("turns the RFC's example body into ' C' and 'D E' with the trailing empty lines gone", () => {
    expect(relaxedBody(splitMessage(message).body)).toBe(" C\r\nD E\r\n");
  });

  it("gives an empty body as empty, and ends a body without a final line end with one", () => {
    expect(relaxedBody("")).toBe("");
    expect(relaxedBody("\r\n\r\n")).toBe("");
    expect(relaxedBody("last line  ")).toBe("last line\r\n");
  });

  it("keeps byte 0xA0 of UTF-8 text (it is not whitespace to DKIM)", () => {
    const latin1 = Buffer.from("Subject: à \r\n", "utf8").toString("latin1");
    const [field] = splitMessage(`${latin1}\r\nbody`).fields;
    expect(Buffer.from(relaxedHeader(field as never), "latin1").toString("utf8")).toBe("subject:à");
    const body = Buffer.from("à\r\n", "utf8").toString("latin1");
    expect(Buffer.from(relaxedBody(body), "latin1").toString("utf8")).toBe("à\r\n");
  });

  it("gives the same body as the RFC's line-by-line wording, for any mix of spaces, tabs and line ends", () => {
    // RFC 6376 §3.4.4 read literally: per line, drop trailing WSP and shrink WSP runs; then drop the
    // empty lines at the end, and end a non-empty body with CRLF.
    const reference = (body: string) => {
      const lines = body.split("\r\n").map((line) => line.replace(/[ \t]+$/, "").replace(/[ \t]+/g, " "));
      while (lines.length > 0 && lines.at(-1) === "") lines.pop();
      return lines.length === 0 ? "" : `${lines.join("\r\n")}\r\n`;
    };
    const piece = fc.constantFrom(" ", "\t", "\r\n", "a", "\u00a0", "  ");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const body = pieces.join("");
        expect(relaxedBody(body)).toBe(reference(body));
      }),
      { numRuns: 2_000 },
    );
  });
});
