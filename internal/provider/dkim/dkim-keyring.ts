import { type DkimKey, normalizeDomain } from "./dkim-keys.ts";

/**
 * The keys by signing domain. Mail from a domain signs with that domain's keys or, failing those,
 * the nearest parent domain's: news.shop.example uses shop.example's keys (d=shop.example), which
 * DMARC's relaxed alignment accepts. No key on the way up: the mail goes unsigned.
 */
export class DkimKeyring {
  readonly #byDomain = new Map<string, DkimKey[]>();

  constructor(keys: readonly DkimKey[]) {
    for (const key of keys) {
      const list = this.#byDomain.get(key.domain);
      if (list) list.push(key);
      else this.#byDomain.set(key.domain, [key]);
    }
  }

  get size(): number {
    return this.#byDomain.size;
  }

  /** The keys of `domain` or its nearest parent that has any; empty when none does. */
  keysFor(domain: string): readonly DkimKey[] {
    let candidate = normalizeDomain(domain);
    for (;;) {
      const keys = this.#byDomain.get(candidate);
      if (keys) return keys;
      const dot = candidate.indexOf(".");
      if (dot < 0) return [];
      candidate = candidate.slice(dot + 1);
    }
  }
}
