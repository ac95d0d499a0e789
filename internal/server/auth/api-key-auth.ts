import { createHash, timingSafeEqual } from "node:crypto";
import { API_SCOPES, type ApiKeyConfig, type ApiScope } from "../../config/index.ts";
import { KindedError } from "../../errors/error-kind.ts";

export interface Caller {
  name: string;
  scopes: readonly string[];
  /** Which key it is (its configured SHA-256, or "anonymous"): a key re-issued under its old name differs. */
  keyId: string;
}

/** Every caller when no keys are configured (the embedded default). */
const ANONYMOUS: Caller = { name: "anonymous", scopes: API_SCOPES, keyId: "anonymous" };

/**
 * Checks a presented key against the configured SHA-256 hashes in constant time. With no keys
 * configured, every caller is let in with every scope (the embedded default).
 */
export class ApiKeyAuth {
  readonly #keys: readonly { name: string; keyId: string; digest: Buffer; scopes: readonly string[] }[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.#keys = keys.map((k) => ({
      name: k.name,
      keyId: k.sha256,
      digest: Buffer.from(k.sha256, "hex"),
      scopes: k.scopes,
    }));
  }

  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /** The configured key named `name` (the anonymous caller when no keys are configured). */
  byName(name: string): Caller | undefined {
    if (!this.enabled) return name === "anonymous" ? ANONYMOUS : undefined;
    const key = this.#keys.find((k) => k.name === name);
    return key && { name: key.name, scopes: key.scopes, keyId: key.keyId };
  }

  authenticate(presented: string | undefined): Caller | undefined {
    if (!this.enabled) return ANONYMOUS;
    if (!presented) return undefined;
    const digest = createHash("sha256").update(presented).digest();
    let match: Caller | undefined;
    // Compare with every key, so the time taken does not tell which one (or whether one) matched.
    for (const key of this.#keys) {
      if (timingSafeEqual(digest, key.digest))
        match = { name: key.name, scopes: key.scopes, keyId: key.keyId };
    }
    return match;
  }
}

/** Whether a caller holding `scopes` may do what needs `needed`: `admin` may do everything but send. */
export function permits(scopes: readonly string[], needed: ApiScope): boolean {
  return scopes.includes(needed) || (needed === "campaign" && scopes.includes("admin"));
}

/**
 * The caller of an HTTP request, who must hold a key permitting `scope`; throws the refusal
 * (unauthenticated, permission_denied) the error table answers with 401 / 403.
 */
export function authorizeRequest(
  auth: ApiKeyAuth,
  headers: Record<string, string | string[] | undefined>,
  scope: ApiScope,
): void {
  const caller = auth.authenticate(presentedKey(headers));
  if (!caller) throw new KindedError("unauthenticated", "missing or unknown API key");
  if (!permits(caller.scopes, scope))
    throw new KindedError("permission_denied", `API key "${caller.name}" lacks the ${scope} scope`);
}

/** `authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === "string" && /^bearer\s+/i.test(authorization))
    return authorization.replace(/^bearer\s+/i, "").trim();
  const apiKey = headers["x-api-key"];
  return typeof apiKey === "string" ? apiKey.trim() : undefined;
}
