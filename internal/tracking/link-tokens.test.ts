import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { LinkTokens, redirectableUrl } from "./link-tokens.ts";

const SECRET = "link-tokens-test-secret-0123456789";
const DAY = 24 * 60 * 60 * 1000;

/** Signs any claims the way LinkTokens does, as a link from before URLs were checked could be. */
function legacyToken(claims: unknown): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${payload}.${createHmac("sha256", SECRET).update(payload).digest("base64url").slice(0, 32)}`;
}

describe("LinkTokens expiry", () => {
  let now = Date.UTC(2026, 0, 1);
  const tokens = new LinkTokens(SECRET, { ttlMs: 90 * DAY, now: () => now });

  it("carries the signing time and honours links within their lifetime", () => {
    now = Date.UTC(2026, 0, 1);
    const open = tokens.sign({ k: "o", j: "job" });
    expect(tokens.verify(open)).toEqual({ k: "o", j: "job", t: now / 1000 });
    now += 90 * DAY;
    expect(tokens.verify(open)).toMatchObject({ k: "o" });
  });

  it("drops expired open and unsubscribe links, and marks expired clicks (they redirect, record nothing)", () => {
    now = Date.UTC(2026, 0, 1);
    const open = tokens.sign({ k: "o", j: "job" });
    const unsubscribe = tokens.sign({ k: "u", j: "job", e: "ada@example.org" });
    const click = tokens.sign({ k: "c", j: "job", u: "https://example.com/x" });
    now += 90 * DAY + 1000;
    expect(tokens.verify(open)).toBeUndefined();
    expect(tokens.verify(unsubscribe)).toBeUndefined();
    expect(tokens.verify(click)).toMatchObject({ k: "c", u: "https://example.com/x", expired: true });
  });

  it("keeps undated links from before expiry existed valid, and never takes `expired` from the payload", () => {
    expect(tokens.verify(legacyToken({ k: "o", j: "job" }))).toEqual({ k: "o", j: "job" });
    expect(tokens.verify(legacyToken({ k: "c", j: "job", u: "https://e.com/", expired: false }))).toEqual({
      k: "c",
      j: "job",
      u: "https://e.com/",
    });
  });

  it("refuses signed claims of the wrong shape, and click URLs a Location header cannot carry", () => {
    for (const claims of [
      { k: "x", j: "job" },
      { k: "o", j: 7 },
      { k: "o", j: "job", t: "yesterday" },
      { k: "u", j: "job", e: 1 },
      { k: "c", j: "job", u: "https://example.com/a\r\nSet-Cookie: x=1" },
      { k: "c", j: "job", u: "https://example.com/a b" },
      { k: "c", j: "job", u: "https://example.com/\u20ac" },
      { k: "c", j: "job", u: "javascript:alert(1)" },
      null,
    ])
      expect(tokens.verify(legacyToken(claims)), JSON.stringify(claims)).toBeUndefined();
  });
});

describe("redirectableUrl", () => {
  it("keeps printable http(s) URLs as written", () => {
    expect(redirectableUrl("https://example.com/a?x=1&y=2#f")).toBe("https://example.com/a?x=1&y=2#f");
    expect(redirectableUrl("HTTP://Example.com")).toBe("HTTP://Example.com");
  });

  it("percent-encodes other non-ASCII, and refuses control characters, whitespace and other schemes", () => {
    expect(redirectableUrl("https://example.com/€")).toBe("https://example.com/%E2%82%AC");
    for (const url of [
      "https://example.com/a\r\nb",
      "https://example.com/a\nb",
      "https://example.com/a\tb",
      "https://example.com/a b",
      "https://example.com/a\u00a0b",
      "https://example.com/a\u0085b",
      "https://example.com/a\u0000b",
      "ftp://example.com/",
      "mailto:a@example.com",
      "https://",
    ])
      expect(redirectableUrl(url), JSON.stringify(url)).toBeUndefined();
  });
});
