import { createVerify, X509Certificate } from "node:crypto";
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
  /** Messages older than this are refused (replays). */
  maxAgeMs: number;
  now?: () => number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

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
 * recent. Certificates are cached by URL.
 */
export class SnsVerifier {
  readonly #options: SnsVerifierOptions;
  readonly #certificates = new Map<string, Promise<X509Certificate>>();

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

  async verify(message: SnsMessage): Promise<void> {
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
    const url = this.checkUrl(message.SigningCertURL, "SigningCertURL");
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
      const fetchText = this.#options.fetchText ?? (async (u: string) => (await fetch(u)).text());
      pending = fetchText(url).then((pem) => new X509Certificate(pem));
      pending.catch(() => this.#certificates.delete(url));
      this.#certificates.set(url, pending);
    }
    return pending;
  }
}

export { stringToSign as snsStringToSign };
