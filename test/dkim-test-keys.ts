import { generateKeyPairSync, type KeyObject } from "node:crypto";
import type { DkimAlgorithm } from "../internal/config/formats.ts";

export interface TestDkimKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM, generated for this run: no private key is ever committed. */
  privatePem: string;
  /** `selector._domainkey.domain` */
  recordName: string;
  /** The TXT value, built here independently of the service's own record code. */
  record: string;
}

function recordValue(algorithm: DkimAlgorithm, publicKey: KeyObject): string {
  if (algorithm === "ed25519-sha256") {
    const raw = Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url");
    return `v=DKIM1; k=ed25519; p=${raw.toString("base64")}`;
  }
  return `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;
}

/** A fresh key pair for `selector._domainkey.domain`. */
export function testDkimKey(
  domain: string,
  selector: string,
  algorithm: DkimAlgorithm = "rsa-sha256",
  rsaBits = 2048,
): TestDkimKey {
  const { privateKey, publicKey } =
    algorithm === "ed25519-sha256"
      ? generateKeyPairSync("ed25519")
      : generateKeyPairSync("rsa", { modulusLength: rsaBits });
  return {
    domain,
    selector,
    algorithm,
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    recordName: `${selector}._domainkey.${domain}`,
    record: recordValue(algorithm, publicKey),
  };
}

/** The DNS answers for `keys`, as verifiers look them up. */
export function dnsRecords(...keys: TestDkimKey[]): Record<string, string> {
  return Object.fromEntries(keys.map((key) => [key.recordName, key.record]));
}
