import { describe, expect, it } from "vitest";
import type { OutgoingEmail } from "../provider/provider.ts";
import { EmailInstrumenter } from "./email-instrumenter.ts";
import { LinkTokens } from "./link-tokens.ts";

const tokens = new LinkTokens("a-test-secret-of-enough-length");
const instrumenter = new EmailInstrumenter({
  tokens,
  baseUrl: "https://mail.example.com/",
  openTracking: ["newsletter*"],
  clickTracking: ["newsletter*"],
  unsubscribe: ["newsletter*"],
});

const email = (jobType: string): OutgoingEmail => ({
  job_id: "11111111-2222-4333-8444-555555555555",
  job_type: jobType,
  to: { email: "ada@example.org" },
  subject: "News",
  html: "<html><body><p><a href=\"https://example.com/a?x=1&amp;y=2\">A</a> <a href='mailto:hi@example.com'>mail</a></p></body></html>",
  text: "A: https://example.com/a?x=1&y=2",
  headers: {},
  attachments: [],
});

describe("LinkTokens", () => {
  it("verifies what it signed and nothing else", () => {
    const token = tokens.sign({ k: "c", j: "job", u: "https://example.com" });
    expect(tokens.verify(token)).toEqual({
      k: "c",
      j: "job",
      u: "https://example.com",
      t: expect.any(Number),
    });
    const [payload] = token.split(".");
    const forged = `${Buffer.from(JSON.stringify({ k: "c", j: "job", u: "https://evil.example" })).toString("base64url")}.${token.split(".")[1]}`;
    expect(tokens.verify(forged)).toBeUndefined();
    expect(tokens.verify(`${payload}.AAAA`)).toBeUndefined();
    expect(new LinkTokens("another-secret-entirely-different").verify(token)).toBeUndefined();
    expect(tokens.verify("garbage")).toBeUndefined();
  });
});

describe("EmailInstrumenter", () => {
  it("adds a pixel, rewrites web links through signed redirects, and adds one-click unsubscribe", () => {
    const out = instrumenter.instrument(email("newsletter_weekly"));
    const redirect = /href="https:\/\/mail\.example\.com\/t\/c\/([^"]+)"/.exec(out.html ?? "");
    expect(tokens.verify(redirect?.[1] ?? "")).toMatchObject({ k: "c", u: "https://example.com/a?x=1&y=2" });
    expect(out.html).toContain("href='mailto:hi@example.com'");
    expect(out.html).toMatch(
      /<img src="https:\/\/mail\.example\.com\/t\/o\/[^"]+\.gif" width="1" height="1" alt="" style="display:none"><\/body>/,
    );
    expect(out.text).toBe("A: https://example.com/a?x=1&y=2");
    expect(out.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    const unsubscribe = /^<https:\/\/mail\.example\.com\/t\/u\/(.+)>$/.exec(
      out.headers["List-Unsubscribe"] ?? "",
    );
    expect(tokens.verify(unsubscribe?.[1] ?? "")).toMatchObject({ k: "u", e: "ada@example.org" });
  });

  it("leaves a link with control characters or whitespace as written, and encodes other non-ASCII", () => {
    const html = [
      '<a href="https://example.com/a\r\nSet-Cookie: x=1">crlf</a>',
      '<a href="https://example.com/b\tc">tab</a>',
      '<a href="https://example.com/d e">space</a>',
      '<a href="https://example.com/f\u0000g">nul</a>',
      '<a href="https://example.com/caf\u00e9">accent</a>',
    ].join("");
    const out = instrumenter.instrument({ ...email("newsletter_weekly"), html });
    const tokensIn = [...(out.html ?? "").matchAll(/\/t\/c\/([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(tokensIn).toHaveLength(1);
    expect(tokens.verify(tokensIn[0] ?? "")).toMatchObject({ u: "https://example.com/caf%C3%A9" });
    for (const kept of ["a\r\nSet-Cookie: x=1", "b\tc", "d e", "f\u0000g"])
      expect(out.html).toContain(`href="https://example.com/${kept}"`);
  });

  it("leaves other job types alone", () => {
    const original = email("password_reset");
    expect(instrumenter.instrument(original)).toBe(original);
  });
});
