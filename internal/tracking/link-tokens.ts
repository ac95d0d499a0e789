import { createHmac, timingSafeEqual } from "node:crypto";

export interface TrackingClaims {
  /** o: open, c: click, u: unsubscribe. */
  k: "o" | "c" | "u";
  /** The job. */
  j: string;
  /** Click: where to send the reader. */
  u?: string;
  /** Unsubscribe: the address to suppress. */
  e?: string;
}

/**
 * Signed tokens for tracking links: the claims travel in the URL, and an HMAC-SHA256 over them (with
 * tracking.secret) proves the service wrote them. A token that does not verify is treated as if the
 * link did not exist, so the click endpoint can never be used as an open redirect.
 */
export class LinkTokens {
  readonly #secret: string;

  constructor(secret: string) {
    this.#secret = secret;
  }

  sign(claims: TrackingClaims): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${payload}.${this.#mac(payload)}`;
  }

  verify(token: string): TrackingClaims | undefined {
    const [payload, mac] = token.split(".");
    if (!payload || !mac) return undefined;
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TrackingClaims;
      return ["o", "c", "u"].includes(claims.k) && typeof claims.j === "string" ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  #mac(payload: string): string {
    return createHmac("sha256", this.#secret).update(payload).digest("base64url").slice(0, 32);
  }
}
