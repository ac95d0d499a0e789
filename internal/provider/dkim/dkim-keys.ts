import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { domainToASCII } from "node:url";
import type { DkimAlgorithm, DkimKeyConfig } from "../../config/formats.ts";
import type { Config } from "../../config/index.ts";
import { KindedError } from "../../errors/error-kind.ts";

/** RFC 8301 §3.2: verifiers refuse RSA keys under 1024 bits, so such a key would only ever sign in vain. */
const MIN_RSA_BITS = 1024;

/** A signing key, parsed and checked once at start-up: signing reuses its KeyObject. */
export interface DkimKey {
  /** The signing domain (d=), lowercase A-labels. */
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Lowercase A-labels without a trailing dot: the form From domains are compared in. */
export function normalizeDomain(domain: string): string {
  const trimmed = domain.trim().replace(/\.$/, "").toLowerCase();
  return domainToASCII(trimmed) || trimmed;
}

/** Every configured key: `keys`, plus the single-domain settings when `domain` is set. */
export function dkimKeyConfigs(settings: Config["email"]["dkim"]): DkimKeyConfig[] {
  const { keys, domain, selector, private_key, algorithm } = settings;
  if (!domain && !selector && !private_key) return keys;
  if (!domain || !selector || !private_key)
    throw new KindedError(
      "invalid_config",
      "email.dkim: domain, selector and private_key go together (DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY)",
    );
  return [...keys, { domain, selector, private_key, algorithm }];
}

function invalidKey(entry: DkimKeyConfig, problem: string): KindedError<"invalid_config"> {
  return new KindedError(
    "invalid_config",
    `email.dkim: key for domain ${entry.domain} selector ${entry.selector}: ${problem}`,
  );
}

/** The PEM text, from the setting or its file; environment values often carry "\n" escapes. */
function pemOf(entry: DkimKeyConfig, readFile: (path: string) => string): string {
  if (entry.private_key_file) {
    try {
      return readFile(entry.private_key_file);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw invalidKey(entry, `cannot read private_key_file ${entry.private_key_file} (${reason})`);
    }
  }
  const pem = entry.private_key ?? "";
  return pem.includes("\n") ? pem : pem.replaceAll("\\n", "\n");
}

/** Parses one key and checks it fits its algorithm. Messages never quote the key: it is a secret. */
export function loadDkimKey(
  entry: DkimKeyConfig,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): DkimKey {
  const algorithm = entry.algorithm ?? "rsa-sha256";
  const pem = pemOf(entry, readFile);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw invalidKey(entry, "not a PEM private key");
  }
  const type = privateKey.asymmetricKeyType;
  if (algorithm === "rsa-sha256") {
    if (type !== "rsa") throw invalidKey(entry, `rsa-sha256 needs an RSA key, this is ${type ?? "unknown"}`);
    const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      throw invalidKey(entry, `RSA key of ${bits} bits; DKIM needs at least ${MIN_RSA_BITS} (2048 advised)`);
  } else if (type !== "ed25519") {
    throw invalidKey(entry, `ed25519-sha256 needs an Ed25519 key, this is ${type ?? "unknown"}`);
  }
  return {
    domain: normalizeDomain(entry.domain),
    selector: entry.selector,
    algorithm,
    privateKey,
    publicKey: createPublicKey(privateKey),
  };
}

/**
 * Every configured key, loaded and checked: the first bad one stops start-up with a line naming its
 * domain and selector. The same domain and selector twice would publish one DNS record for two keys.
 */
export function loadDkimKeys(
  settings: Config["email"]["dkim"],
  readFile?: (path: string) => string,
): DkimKey[] {
  const keys: DkimKey[] = [];
  const seen = new Set<string>();
  for (const entry of dkimKeyConfigs(settings)) {
    const key = loadDkimKey(entry, readFile);
    const name = `${key.selector}._domainkey.${key.domain}`;
    if (seen.has(name)) throw invalidKey(entry, "configured twice");
    seen.add(name);
    keys.push(key);
  }
  return keys;
}
