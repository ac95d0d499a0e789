import { LRUCache } from "lru-cache";
import {
  normaliseAddress,
  type SuppressionReason,
  type SuppressionRecord,
  type SuppressionRepository,
} from "./suppression-repository.ts";

/**
 * The suppression list with recent lookups kept in memory, so checking every recipient does not
 * cost a database round trip per email. Changes made through this object apply at once here; other
 * replicas see them within `ttlMs`.
 */
export class CachedSuppressionList {
  readonly #repository: SuppressionRepository;
  readonly #cache: LRUCache<string, SuppressionRecord | false>;

  constructor(repository: SuppressionRepository, options: { ttlMs: number; max: number }) {
    this.#repository = repository;
    this.#cache = new LRUCache<string, SuppressionRecord | false>({
      // lru-cache allocates its arrays for `max` entries up front (100,000 cost 4 MB idle).
      max: Math.max(options.max, 1),
      ttl: Math.max(options.ttlMs, 1),
      fetchMethod: async (email) => (await repository.find(email)) ?? false,
    });
  }

  async find(email: string): Promise<SuppressionRecord | undefined> {
    if (this.#cache.ttl <= 1) return this.#repository.find(email);
    return (await this.#cache.fetch(normaliseAddress(email))) || undefined;
  }

  async add(entry: { email: string; reason: SuppressionReason; source: string; details?: string | null }) {
    const record = await this.#repository.add(entry);
    this.#cache.set(record.email, record);
    return record;
  }

  async remove(email: string): Promise<boolean> {
    const removed = await this.#repository.remove(email);
    this.#cache.delete(normaliseAddress(email));
    return removed;
  }

  list(options: Parameters<SuppressionRepository["list"]>[0]) {
    return this.#repository.list(options);
  }
}
