import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** A signed-in console user: the API key's name (its scopes are looked up per request) and when it ends. */
export interface ConsoleSession {
  /** Random per sign-in: what the CSRF token is bound to. */
  id: string;
  name: string;
  /** A keyed hash of the key's identity, so a session ends when its key is replaced. */
  keyTag: string;
  expiresAt: number;
}

interface Payload {
  v: 1;
  sid: string;
  name: string;
  kid: string;
  exp: number;
}

export interface ConsoleSessionsOptions {
  /** Signs the cookies; empty: a random secret of this process's own. */
  secret: string;
  ttlMs: number;
  now?: () => number;
}

/**
 * Stateless console sessions: the cookie carries the key's name and an expiry, signed with HMAC, so
 * any replica sharing the secret can read it and nothing is stored. The API key itself is never in
 * it, only a keyed hash of which key it was; the scopes are looked up again on every request, so a
 * key removed from the configuration, or replaced under the same name, ends its sessions. The CSRF token is an HMAC of the session's random id: a page of another site
 * can make the browser send the cookie, but cannot read the token it must send back beside it.
 */
export class ConsoleSessions {
  readonly #key: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: ConsoleSessionsOptions) {
    this.#key = options.secret ? Buffer.from(options.secret, "utf8") : randomBytes(32);
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** A new session for the key named `name` (`keyId`: which key it is), and its cookie value. */
  issue(name: string, keyId: string): { session: ConsoleSession; token: string } {
    const payload: Payload = {
      v: 1,
      sid: randomBytes(16).toString("base64url"),
      name,
      kid: this.#keyTag(keyId),
      exp: this.#now() + this.#ttlMs,
    };
    const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
    return { session: sessionOf(payload), token: `${body}.${this.#mac(`session.${body}`)}` };
  }

  /** The session a cookie value carries; undefined when it is forged, altered or expired. */
  read(token: string | undefined): ConsoleSession | undefined {
    if (!token) return undefined;
    const dot = token.indexOf(".");
    if (dot <= 0) return undefined;
    const body = token.slice(0, dot);
    if (!sameText(token.slice(dot + 1), this.#mac(`session.${body}`))) return undefined;
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Payload;
    } catch {
      return undefined;
    }
    if (payload.v !== 1 || typeof payload.name !== "string" || typeof payload.sid !== "string")
      return undefined;
    if (!(payload.exp > this.#now())) return undefined;
    return sessionOf(payload);
  }

  /** Whether `session` was issued for the key `keyId` (not an earlier key of the same name). */
  isFor(session: ConsoleSession, keyId: string): boolean {
    return sameText(session.keyTag, this.#keyTag(keyId));
  }

  csrfToken(session: ConsoleSession): string {
    return this.#mac(`csrf.${session.id}`);
  }

  /** Whether `presented` is this session's CSRF token (compared in constant time). */
  checkCsrf(session: ConsoleSession, presented: string | undefined): boolean {
    return presented !== undefined && sameText(presented, this.csrfToken(session));
  }

  #keyTag(keyId: string): string {
    return this.#mac(`key.${keyId}`).slice(0, 22);
  }

  #mac(text: string): string {
    return createHmac("sha256", this.#key).update(text).digest("base64url");
  }
}

function sessionOf(payload: Payload): ConsoleSession {
  return { id: payload.sid, name: payload.name, keyTag: payload.kid, expiresAt: payload.exp };
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
