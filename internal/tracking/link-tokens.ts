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
  /** When the link was signed (the email sent), in Unix seconds; absent in links signed before links expired. */
  t?: number;
  /** Set by verify, never signed: a click link past its lifetime, which redirects but records nothing. */
  expired?: true;
}

interface LinkTokensOptions {
  /** How long a link stays valid after it was signed (tracking.link_ttl). */
  ttlMs?: number;
  now?: () => number;
}

/** tracking.link_ttl's default: 90 days. */
const DEFAULT_TTL_MS = 90 * 24 * 60 * 60 * 1000;

/** What a Location header can carry as it is: an http(s) URL of printable ASCII, no whitespace. */
const REDIRECTABLE = /^https?:\/\/[\x21-\x7e]+$/i;
/** CR, LF, tabs and other control characters, and whitespace of any script. */
const CONTROL_OR_SPACE = /[\s\p{Cc}]/u;

/**
 * The URL a click link may redirect to, or undefined when it must not be rewritten: a URL with
 * control characters or whitespace (header injection, or a link the author did not mean), or one that
 * is not http(s). A URL with other non-ASCII characters is taken in its percent-encoded form.
 */
export function redirectableUrl(raw: string): string | undefined {
  if (CONTROL_OR_SPACE.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (REDIRECTABLE.test(raw)) return raw;
  return REDIRECTABLE.test(url.href) ? url.href : undefined;
}

/** The signed claims, if they have the shape this service signs; anything else is no link. */
function wellFormed(value: unknown): TrackingClaims | undefined {
  const { k, j, u, e, t } = (value ?? {}) as Record<string, unknown>;
  if ((k !== "o" && k !== "c" && k !== "u") || typeof j !== "string") return undefined;
  if (e !== undefined && typeof e !== "string") return undefined;
  if (t !== undefined && typeof t !== "number") return undefined;
  // A click only ever redirects to a URL a Location header can carry: a link signed before URLs
  // were checked must not make the redirect fail.
  if (u !== undefined && (typeof u !== "string" || !REDIRECTABLE.test(u))) return undefined;
  return {
    k,
    j,
    ...(u !== undefined && { u }),
    ...(e !== undefined && { e }),
    ...(t !== undefined && { t }),
  };
}

/**
 * Signed tokens for tracking links: the claims travel in the URL, and an HMAC-SHA256 over them (with
 * tracking.secret) proves the service wrote them. A token that does not verify is treated as if the
 * link did not exist, so the click endpoint can never be used as an open redirect.
 *
 * Links expire `ttlMs` after signing. An expired open or unsubscribe link no longer exists (404); an
 * expired click link still takes the reader to its URL (we signed that URL, so it is no open
 * redirect, and a reader of an old email should not land on an error) but records nothing. Links
 * signed before they carried a time cannot be dated and stay valid; rotating tracking.secret once
 * `ttlMs` has passed retires them.
 */
export class LinkTokens {
  readonly #secret: string;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(secret: string, options: LinkTokensOptions = {}) {
    this.#secret = secret;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  sign(claims: Omit<TrackingClaims, "t" | "expired">): string {
    const signed: TrackingClaims = { ...claims, t: Math.floor(this.#now() / 1000) };
    const payload = Buffer.from(JSON.stringify(signed)).toString("base64url");
    return `${payload}.${this.#mac(payload)}`;
  }

  verify(token: string): TrackingClaims | undefined {
    const [payload, mac] = token.split(".");
    if (!payload || !mac) return undefined;
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: TrackingClaims | undefined;
    try {
      claims = wellFormed(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
    } catch {
      return undefined;
    }
    if (!claims || !this.#expired(claims)) return claims;
    return claims.k === "c" ? { ...claims, expired: true } : undefined;
  }

  #expired(claims: TrackingClaims): boolean {
    return claims.t !== undefined && this.#now() - claims.t * 1000 > this.#ttlMs;
  }

  #mac(payload: string): string {
    return createHmac("sha256", this.#secret).update(payload).digest("base64url").slice(0, 32);
  }
}
