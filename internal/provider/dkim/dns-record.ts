import type { DkimKey } from "./dkim-keys.ts";

/** A TXT record's character-strings hold at most 255 octets each (RFC 1035 §3.3). */
const MAX_STRING = 255;

export interface DkimDnsRecord {
  /** Fully qualified, with the trailing dot zone files need. */
  name: string;
  /** The record's whole value, as verifiers read it (the strings joined). */
  value: string;
  /** The value split into strings a TXT record can carry. */
  strings: string[];
}

/** The public key as p= carries it: SPKI DER for RSA (RFC 6376 §3.6.1), the raw 32 bytes for Ed25519 (RFC 8463 §4.2). */
function publicKeyData(key: DkimKey): string {
  if (key.algorithm === "ed25519-sha256") {
    const { x } = key.publicKey.export({ format: "jwk" });
    return Buffer.from(x ?? "", "base64url").toString("base64");
  }
  return key.publicKey.export({ type: "spki", format: "der" }).toString("base64");
}

/** The TXT record that publishes `key` at <selector>._domainkey.<domain>. */
export function dkimDnsRecord(key: DkimKey): DkimDnsRecord {
  const type = key.algorithm === "ed25519-sha256" ? "ed25519" : "rsa";
  const value = `v=DKIM1; k=${type}; p=${publicKeyData(key)}`;
  const strings: string[] = [];
  for (let at = 0; at < value.length; at += MAX_STRING) strings.push(value.slice(at, at + MAX_STRING));
  return { name: `${key.selector}._domainkey.${key.domain}.`, value, strings };
}

/** The record as a zone file line: `name IN TXT "…" "…"`. */
export function zoneFileLine(record: DkimDnsRecord): string {
  return `${record.name} IN TXT ${record.strings.map((s) => `"${s}"`).join(" ")}`;
}
