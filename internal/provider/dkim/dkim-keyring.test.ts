import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DkimKeyring } from "./dkim-keyring.ts";
import type { DkimKey } from "./dkim-keys.ts";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const key = (domain: string, selector: string): DkimKey => ({
  domain,
  selector,
  algorithm: "ed25519-sha256",
  privateKey,
  publicKey,
});

const keyring = new DkimKeyring([
  key("shop.example", "a"),
  key("shop.example", "b"),
  key("eu.shop.example", "eu"),
  key("other.example", "o"),
]);
const selectors = (domain: string) => keyring.keysFor(domain).map((k) => `${k.selector}@${k.domain}`);

describe("DkimKeyring picks keys by From domain", () => {
  it("uses every key of the exact domain (two during a rotation)", () => {
    expect(selectors("shop.example")).toEqual(["a@shop.example", "b@shop.example"]);
  });

  it("uses the nearest parent that has keys for a subdomain", () => {
    expect(selectors("news.shop.example")).toEqual(["a@shop.example", "b@shop.example"]);
    expect(selectors("mail.eu.shop.example")).toEqual(["eu@eu.shop.example"]);
  });

  it("finds none for a domain without keys, a lookalike suffix, or a bare parent", () => {
    expect(selectors("unknown.example")).toEqual([]);
    expect(selectors("evilshop.example")).toEqual([]);
    expect(selectors("example")).toEqual([]);
  });

  it("compares domains case-insensitively and ignores a trailing dot", () => {
    expect(selectors("News.SHOP.example.")).toEqual(["a@shop.example", "b@shop.example"]);
  });
});
