import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { testDkimKey } from "../../../test/dkim-test-keys.ts";
import type { Config } from "../../config/index.ts";
import { kindOf } from "../../errors/error-kind.ts";
import { loadDkimKey, loadDkimKeys } from "./dkim-keys.ts";

const rsa = testDkimKey("shop.example", "s1");
const ed = testDkimKey("shop.example", "e1", "ed25519-sha256");

function failure(load: () => unknown): Error {
  try {
    load();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the key to be refused");
}

const none: Config["email"]["dkim"] = {
  keys: [],
  domain: "",
  selector: "",
  private_key: "",
  algorithm: "rsa-sha256",
};

describe("loading DKIM keys at start-up", () => {
  it("loads RSA and Ed25519 keys, normalising the domain", () => {
    const keys = loadDkimKeys({
      ...none,
      keys: [
        { domain: "Shop.Example.", selector: "s1", private_key: rsa.privatePem },
        { domain: "shop.example", selector: "e1", private_key: ed.privatePem, algorithm: "ed25519-sha256" },
      ],
    });
    expect(keys.map((k) => [k.domain, k.selector, k.algorithm, k.privateKey.asymmetricKeyType])).toEqual([
      ["shop.example", "s1", "rsa-sha256", "rsa"],
      ["shop.example", "e1", "ed25519-sha256", "ed25519"],
    ]);
  });

  it("adds the single-domain settings to the list, and accepts a PEM with \\n escapes from the environment", () => {
    const keys = loadDkimKeys({
      ...none,
      keys: [{ domain: "other.example", selector: "o", private_key: rsa.privatePem }],
      domain: "shop.example",
      selector: "s1",
      private_key: rsa.privatePem.replaceAll("\n", "\\n"),
    });
    expect(keys.map((k) => `${k.selector}._domainkey.${k.domain}`)).toEqual([
      "o._domainkey.other.example",
      "s1._domainkey.shop.example",
    ]);
  });

  it.each([
    [
      "an unreadable key file",
      { domain: "shop.example", selector: "s1", private_key_file: "/nonexistent/dkim.pem" },
      "cannot read private_key_file /nonexistent/dkim.pem (ENOENT)",
    ],
    [
      "a PEM that is a public key",
      {
        domain: "shop.example",
        selector: "s1",
        private_key: generateKeyPairSync("ed25519")
          .publicKey.export({ type: "spki", format: "pem" })
          .toString(),
      },
      "not a PEM private key",
    ],
    [
      "text that is no PEM at all",
      { domain: "shop.example", selector: "s1", private_key: "secret" },
      "not a PEM private key",
    ],
    [
      "an RSA key with ed25519-sha256",
      {
        domain: "shop.example",
        selector: "s1",
        private_key: rsa.privatePem,
        algorithm: "ed25519-sha256" as const,
      },
      "ed25519-sha256 needs an Ed25519 key, this is rsa",
    ],
    [
      "an Ed25519 key with rsa-sha256",
      { domain: "shop.example", selector: "s1", private_key: ed.privatePem },
      "rsa-sha256 needs an RSA key, this is ed25519",
    ],
    [
      "an RSA key under 1024 bits",
      {
        domain: "shop.example",
        selector: "s1",
        private_key: testDkimKey("x", "y", "rsa-sha256", 768).privatePem,
      },
      "RSA key of 768 bits; DKIM needs at least 1024 (2048 advised)",
    ],
  ])("refuses %s, naming the domain and selector in one line", (_, entry, problem) => {
    const error = failure(() => loadDkimKey(entry));
    expect(kindOf(error)).toBe("invalid_config");
    expect(error.message).toBe(`email.dkim: key for domain shop.example selector s1: ${problem}`);
    expect(error.message).not.toContain("\n");
  });

  it("never quotes the key in its error", () => {
    const secret = rsa.privatePem.split("\n")[1] ?? "";
    const error = failure(() =>
      loadDkimKey({ domain: "shop.example", selector: "s1", private_key: rsa.privatePem.slice(0, 200) }),
    );
    expect(error.message).not.toContain(secret.slice(0, 20));
  });

  it("refuses the same domain and selector twice", () => {
    const entry = { domain: "shop.example", selector: "s1", private_key: rsa.privatePem };
    expect(failure(() => loadDkimKeys({ ...none, keys: [entry, entry] })).message).toBe(
      "email.dkim: key for domain shop.example selector s1: configured twice",
    );
  });

  it("refuses a single-domain setting without its selector or key", () => {
    const error = failure(() => loadDkimKeys({ ...none, domain: "shop.example" }));
    expect(kindOf(error)).toBe("invalid_config");
    expect(error.message).toContain("domain, selector and private_key go together");
  });
});
