/**
 * A Bloom filter of strings: `mightContain` is never false for one that was added, and true for one
 * that was not with about `falsePositiveRate` chance while at most `capacity` are in. Sized from
 * the capacity: ~9.6 bits a string at 1%, so a million cost 1.2 MB.
 */
export class AddressBloomFilter {
  readonly capacity: number;
  readonly #bits: Uint32Array;
  readonly #bitCount: number;
  readonly #hashes: number;
  #count = 0;

  constructor(capacity: number, falsePositiveRate = 0.01) {
    this.capacity = Math.max(Math.ceil(capacity), 1);
    const bits = Math.ceil((-this.capacity * Math.log(falsePositiveRate)) / Math.LN2 ** 2);
    this.#bitCount = Math.max(32, Math.ceil(bits / 32) * 32);
    this.#bits = new Uint32Array(this.#bitCount / 32);
    this.#hashes = Math.max(1, Math.round((this.#bitCount / this.capacity) * Math.LN2));
  }

  /** How many strings were added (repeats included): past the capacity, false positives grow. */
  get count(): number {
    return this.#count;
  }

  add(value: string): void {
    const [h1, h2] = hashPair(value);
    for (let i = 0; i < this.#hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % this.#bitCount;
      this.#bits[at >>> 5] = (this.#bits[at >>> 5] as number) | (1 << (at & 31));
    }
    this.#count++;
  }

  mightContain(value: string): boolean {
    const [h1, h2] = hashPair(value);
    for (let i = 0; i < this.#hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % this.#bitCount;
      if (((this.#bits[at >>> 5] as number) & (1 << (at & 31))) === 0) return false;
    }
    return true;
  }
}

/**
 * Two unrelated 32-bit hashes of the UTF-16 code units (FNV-1a, and a multiply-shift hash with
 * Murmur3's finaliser), combined as h1 + i·h2 for the i-th probe (Kirsch–Mitzenmacher). h2 is odd,
 * so the probes of one string never all fall on one bit.
 */
function hashPair(value: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    a = Math.imul(a ^ unit, 0x01000193);
    b = Math.imul(b + unit, 0x9e3779b1);
    b ^= b >>> 15;
  }
  b ^= b >>> 16;
  b = Math.imul(b, 0x85ebca6b);
  b ^= b >>> 13;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  return [a >>> 0, (b | 1) >>> 0];
}
