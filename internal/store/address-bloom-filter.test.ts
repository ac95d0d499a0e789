import { describe, expect, it } from "vitest";
import { AddressBloomFilter } from "./address-bloom-filter.ts";

describe("AddressBloomFilter", () => {
  it("never says no to an address it was given", () => {
    const filter = new AddressBloomFilter(20_000);
    const added = Array.from({ length: 20_000 }, (_, i) => `user${i}@example.org`);
    for (const address of added) filter.add(address);
    expect(added.every((address) => filter.mightContain(address))).toBe(true);
    expect(filter.count).toBe(20_000);
  });

  it("says maybe to about the rate of addresses it was not given, when full", () => {
    const filter = new AddressBloomFilter(20_000, 0.01);
    for (let i = 0; i < 20_000; i++) filter.add(`bounced-${i}@mail.example.com`);
    let falsePositives = 0;
    const probes = 200_000;
    for (let i = 0; i < probes; i++) if (filter.mightContain(`reader${i}@bench.example`)) falsePositives++;
    // 1% expected; similar addresses (a counter in the local part) are where weak hashes cluster.
    expect(falsePositives / probes).toBeLessThan(0.02);
  });

  it("tells apart addresses that differ in one character, and non-ASCII ones", () => {
    const filter = new AddressBloomFilter(10);
    filter.add("ada@example.org");
    filter.add("josé@exämple.org");
    expect(filter.mightContain("ada@example.org")).toBe(true);
    expect(filter.mightContain("josé@exämple.org")).toBe(true);
    expect(filter.mightContain("adb@example.org")).toBe(false);
    expect(filter.mightContain("jose@example.org")).toBe(false);
  });
});
