import { createVerify, X509Certificate } from "node:crypto";
import { LRUCache } from "lru-cache";
import { WebhookAuthError } from "./provider-event.ts";

/** The fields of an SNS HTTP message that matter here. */
export interface SnsMessage {
  Type: "Notification" | "SubscriptionConfirmation" | "UnsubscribeConfirmation";
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  Signature: string;
  SignatureVersion: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
}

interface SnsVerifierOptions {
  /** Which hosts may serve signing certificates (AWS: sns.<region>.amazonaws.com). */
  certificateHost: RegExp;
  /** Fetches a certificate's PEM text; tests hand in their own. */
  fetchText?: (url: string) => Promise<string>;
  /** How long the default fetch waits for a certificate; 5 s unless a test needs less. */
  certificateTimeoutMs?: number;
  /** Messages older than this are refused (replays). */
  maxAgeMs: number;
  now?: () => number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A slow or silent certificate host must not hold webhook requests open. */
const CERTIFICATE_TIMEOUT_MS = 5_000;
/** An SNS signing certificate is about 2 KiB of PEM; a larger answer is not one. */
const MAX_CERTIFICATE_BYTES = 64 * 1024;
/** AWS signs with a handful of certificates (one per region and rotation): a few suffice. */
const CACHED_CERTIFICATES = 64;
/** Re-fetched now and then, so a revoked certificate does not verify forever. */
const CERTIFICATE_CACHE_TTL_MS = 24 * 60 * 60 * 1000;

/** The body of `response`, refused past `limit` bytes without reading the rest. */
async function cappedText(response: Response, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > limit) {
      await response.body?.cancel();
      throw new Error(`certificate over ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Fetches a certificate with a deadline and a size cap, and follows no redirect off the checked URL. */
async function fetchCertificate(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, { redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`certificate fetch answered ${response.status}`);
  }
  return cappedText(response, MAX_CERTIFICATE_BYTES);
}

/** Signed fields, in the order AWS documents for each message type. */
function stringToSign(message: SnsMessage): string {
  const keys =
    message.Type === "Notification"
      ? [
          "Message",
          "MessageId",
          ...(message.Subject !== undefined ? ["Subject"] : []),
          "Timestamp",
          "TopicArn",
          "Type",
        ]
      : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
  return keys.map((key) => `${key}\n${(message as unknown as Record<string, string>)[key] ?? ""}\n`).join("");
}

/**
 * Verifies an Amazon SNS message: the certificate must come over HTTPS from an allowed host (so
 * nobody can point us at their own key), the signature must verify with it, and the message must be
 * recent. Certificates are cached by URL (bounded, and re-fetched daily).
 */
export class SnsVerifier {
  readonly #options: SnsVerifierOptions;
  readonly #certificates = new LRUCache<string, Promise<X509Certificate>>({
    max: CACHED_CERTIFICATES,
    ttl: CERTIFICATE_CACHE_TTL_MS,
  });

  constructor(options: SnsVerifierOptions) {
    this.#options = options;
  }

  /** Throws WebhookAuthError unless the URL is one we may fetch from (certificates, subscriptions). */
  checkUrl(raw: string | undefined, what: string): URL {
    let url: URL;
    try {
      url = new URL(raw ?? "");
    } catch {
      throw new WebhookAuthError("permission_denied", `${what} is not a URL`);
    }
    // Plain HTTP only on loopback, where nothing can sit in between (the tests' own server).
    const secure = url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname));
    if (!secure || !this.#options.certificateHost.test(url.hostname))
      throw new WebhookAuthError(
        "permission_denied",
        `${what} host ${url.hostname} is not an allowed SNS host`,
      );
    return url;
  }

  /**
   * A signing certificate's URL: an allowed host (checkUrl), and then only what AWS serves them as,
   * `https://sns.<region>.amazonaws.com/<name>.pem` on the default port with no user info, so the
   * service cannot be pointed at another port or path of an AWS host. Loopback (the tests' own
   * server) may use any port.
   */
  checkCertificateUrl(raw: string | undefined): URL {
    const url = this.checkUrl(raw, "SigningCertURL");
    const loopback = LOOPBACK.has(url.hostname);
    // WHATWG URL drops the default port: an https URL naming :443 has port "".
    if (!loopback && url.port !== "")
      throw new WebhookAuthError("permission_denied", "SigningCertURL must use the default HTTPS port");
    if (url.username !== "" || url.password !== "")
      throw new WebhookAuthError("permission_denied", "SigningCertURL must not carry user info");
    if (!url.pathname.endsWith(".pem") || url.search !== "" || url.hash !== "")
      throw new WebhookAuthError("permission_denied", "SigningCertURL must name a .pem file");
    return url;
  }

  async verify(message: SnsMessage): Promise<void> {
    if (typeof message !== "object" || message === null || Array.isArray(message))
      throw new WebhookAuthError("unauthenticated", "an SNS message is a JSON object");
    for (const field of [
      "Type",
      "MessageId",
      "Timestamp",
      "Signature",
      "SigningCertURL",
      "TopicArn",
    ] as const) {
      if (typeof message[field] !== "string" || message[field] === "")
        throw new WebhookAuthError("unauthenticated", `SNS message without ${field}`);
    }
    const url = this.checkCertificateUrl(message.SigningCertURL);
    const age = (this.#options.now ?? Date.now)() - Date.parse(message.Timestamp);
    if (!(Math.abs(age) <= this.#options.maxAgeMs))
      throw new WebhookAuthError("permission_denied", "stale SNS message");
    const algorithm =
      message.SignatureVersion === "2"
        ? "RSA-SHA256"
        : message.SignatureVersion === "1"
          ? "RSA-SHA1"
          : undefined;
    if (!algorithm)
      throw new WebhookAuthError(
        "permission_denied",
        `unknown SNS SignatureVersion ${message.SignatureVersion}`,
      );
    let certificate: X509Certificate;
    try {
      certificate = await this.#certificate(url.toString());
    } catch {
      throw new WebhookAuthError("permission_denied", "SNS signing certificate could not be fetched");
    }
    const verifier = createVerify(algorithm);
    verifier.update(stringToSign(message), "utf8");
    if (!verifier.verify(certificate.publicKey, message.Signature, "base64"))
      throw new WebhookAuthError("permission_denied", "SNS signature does not verify");
  }

  #certificate(url: string): Promise<X509Certificate> {
    let pending = this.#certificates.get(url);
    if (!pending) {
      const timeoutMs = this.#options.certificateTimeoutMs ?? CERTIFICATE_TIMEOUT_MS;
      const fetchText = this.#options.fetchText ?? ((u: string) => fetchCertificate(u, timeoutMs));
      pending = fetchText(url).then((pem) => new X509Certificate(pem));
      pending.catch(() => this.#certificates.delete(url));
      this.#certificates.set(url, pending);
    }
    return pending;
  }
}

export { stringToSign as snsStringToSign };
