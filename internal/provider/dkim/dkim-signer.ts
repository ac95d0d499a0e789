import { createHash, type KeyObject, sign } from "node:crypto";
import { type HeaderField, relaxedBody, relaxedHeader, splitMessage } from "./canonicalization.ts";
import type { DkimKeyring } from "./dkim-keyring.ts";
import type { DkimKey } from "./dkim-keys.ts";

/**
 * The header fields signed when present, in h= order. Content-Transfer-Encoding counts only at the
 * top level, which is all the header block holds. From is listed once more than it occurs: a
 * verifier then hashes an empty field for the extra entry, so a From added later breaks the signature.
 */
const SIGNED_FIELDS = [
  "from",
  "to",
  // Signed when present (RFC 6376 §5.4.1 recommends it): a Cc added in transit breaks the signature.
  "cc",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "reply-to",
  "list-unsubscribe",
  "list-unsubscribe-post",
] as const;

const OVER_SIGNED = "from";

/** Keeps the signature's lines short (RFC 5322 §2.1.1). */
const FOLD_AT = 76;
const BASE64_LINE = 72;

/** Signs on libuv's thread pool: an RSA-2048 signature costs about 0.3 ms of CPU, kept off the event loop. */
function signAsync(algorithm: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sign(algorithm, data, key, (error, signature) => (error ? reject(error) : resolve(signature))),
  );
}

/**
 * The fields to sign and h=: for each name, every occurrence from the bottom up (RFC 6376 §5.4.2),
 * then the over-signed name once more.
 */
function fieldsToSign(fields: readonly HeaderField[]): { canonical: string; names: string[] } {
  let canonical = "";
  const names: string[] = [];
  for (const name of SIGNED_FIELDS) {
    for (let i = fields.length - 1; i >= 0; i--) {
      const field = fields[i] as HeaderField;
      if (field.key !== name) continue;
      canonical += `${relaxedHeader(field)}\r\n`;
      names.push(name);
    }
    if (name === OVER_SIGNED) names.push(name);
  }
  return { canonical, names };
}

function foldBase64(value: string): string {
  const lines: string[] = [];
  for (let at = 0; at < value.length; at += BASE64_LINE) lines.push(value.slice(at, at + BASE64_LINE));
  return lines.join("\r\n ");
}

/** The h= names folded at colons, which h= allows (RFC 6376 §3.5). */
function headerNameTags(names: readonly string[]): string[] {
  const tags: string[] = [];
  let current = "h=";
  for (const [index, name] of names.entries()) {
    const piece = index === names.length - 1 ? name : `${name}:`;
    if (current.length + piece.length > FOLD_AT - 2) {
      tags.push(current);
      current = "";
    }
    current += piece;
  }
  tags.push(current);
  return tags;
}

/** The DKIM-Signature field up to "b=" (its value left empty), which is what the signature covers. */
function unsignedHeader(key: DkimKey, bodyHash: string, names: readonly string[], time: number): string {
  return (
    `DKIM-Signature: v=1; a=${key.algorithm}; c=relaxed/relaxed; d=${key.domain};\r\n` +
    ` s=${key.selector}; t=${time};\r\n ${headerNameTags(names).join("\r\n ")};\r\n bh=${bodyHash};\r\n b=`
  );
}

async function signature(key: DkimKey, data: Buffer): Promise<string> {
  // RFC 8463 §3: Ed25519 signs the SHA-256 digest of the data (PureEdDSA over the hash).
  const signed =
    key.algorithm === "ed25519-sha256"
      ? await signAsync(null, createHash("sha256").update(data).digest(), key.privateKey)
      : await signAsync("sha256", data, key.privateKey);
  return signed.toString("base64");
}

/** The part of an address after its last "@". */
function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1);
}

export interface DkimSignerOptions {
  /** Called the first time mail from a domain without keys goes unsigned. */
  onUnsignedDomain?: (domain: string) => void;
  now?: () => Date;
}

/** Bounds the memory of reported domains when senders vary without end; later ones go unreported. */
const MAX_REPORTED_DOMAINS = 1_000;

/**
 * DKIM signs composed messages (RFC 6376, relaxed/relaxed; rsa-sha256 or ed25519-sha256 per RFC
 * 8463) with every key of the From domain: two keys during a rotation give two signatures.
 */
export class DkimSigner {
  readonly #keyring: DkimKeyring;
  readonly #onUnsigned: ((domain: string) => void) | undefined;
  readonly #now: () => Date;
  readonly #reported = new Set<string>();

  constructor(keyring: DkimKeyring, options: DkimSignerOptions = {}) {
    this.#keyring = keyring;
    this.#onUnsigned = options.onUnsignedDomain;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * `message` with a DKIM-Signature field per key in front, or as it is when no key covers the
   * sender. `from` is the From header's address: the composer writes it from the same mailbox.
   */
  async sign(message: Buffer, from: string): Promise<Buffer> {
    const keys = this.#keyring.keysFor(domainOf(from));
    if (keys.length === 0) {
      this.#reportUnsigned(domainOf(from).toLowerCase());
      return message;
    }
    const { fields, body } = splitMessage(message.toString("latin1"));
    const bodyHash = createHash("sha256").update(relaxedBody(body), "latin1").digest("base64");
    const { canonical, names } = fieldsToSign(fields);
    const time = Math.floor(this.#now().getTime() / 1000);
    const headers = await Promise.all(
      keys.map(async (key) => {
        const header = unsignedHeader(key, bodyHash, names, time);
        const data = Buffer.from(
          `${canonical}${relaxedHeader({ key: "dkim-signature", line: header })}`,
          "latin1",
        );
        return `${header}${foldBase64(await signature(key, data))}\r\n`;
      }),
    );
    return Buffer.concat([Buffer.from(headers.join(""), "latin1"), message]);
  }

  #reportUnsigned(domain: string): void {
    if (!this.#onUnsigned || this.#reported.has(domain) || this.#reported.size >= MAX_REPORTED_DOMAINS)
      return;
    this.#reported.add(domain);
    this.#onUnsigned(domain);
  }
}

/** The message signed when there is a signer; the providers' one line after composing. */
export function signedWith(signer: DkimSigner | undefined, message: Buffer, from: string): Promise<Buffer> {
  return signer ? signer.sign(message, from) : Promise.resolve(message);
}
