import { LRUCache } from "lru-cache";
import { AddressBloomFilter } from "./address-bloom-filter.ts";
import {
  normaliseAddress,
  type SuppressionReason,
  type SuppressionRecord,
  type SuppressionRepository,
} from "./suppression-repository.ts";

/** A rebuilt filter has room for twice the list as it stands, and at least this many addresses. */
const MIN_FILTER_CAPACITY = 10_000;
/** Read per query while building the filter. */
const FILTER_PAGE = 10_000;
/** More new addresses than this in one refresh rebuild the filter instead (a bulk import). */
const REFRESH_LIMIT = 10_000;
/**
 * How far before the last refresh the next one looks: a row is dated when its transaction ran, and
 * one that committed later than the refresh that should have seen it is still found.
 */
const REFRESH_OVERLAP_MS = 60_000;
/** A filter is rebuilt this often: addresses removed since leave it, and it is sized again. */
const REBUILD_INTERVAL_MS = 10 * 60_000;

/** What the list reads and writes: the repository (a test may count its reads). */
export type SuppressionStore = Pick<
  SuppressionRepository,
  "find" | "add" | "remove" | "list" | "count" | "addresses" | "addedSince"
>;

interface SuppressionListOptions {
  /** How long a lookup is remembered, and how stale the filter may be; 0: look up every time. */
  ttlMs: number;
  max: number;
  now?: () => number;
}

/**
 * The suppression list as the workers check it, once per recipient of every email. A filter of
 * every suppressed address answers most lookups in memory: an address it has never seen is
 * certainly not suppressed, so only the few it might hold (the suppressed ones, and about 1% of
 * the rest) are read from the database, and those reads are remembered for `ttlMs`. Without it,
 * each email waited for a database round trip, behind whatever else the database was doing.
 *
 * Changes made through this object apply at once here. Other replicas' additions reach the filter
 * when it is refreshed (`refresh`, every `ttlMs`), and their removals once a remembered lookup
 * expires. Until the first refresh has built the filter, every lookup goes to the database.
 */
export class CachedSuppressionList {
  readonly #repository: SuppressionStore;
  readonly #cache: LRUCache<string, SuppressionRecord | false>;
  readonly #now: () => number;
  #filter: AddressBloomFilter | undefined;
  /** Addresses added here while a new filter is being built, for it. */
  #addedDuringBuild: string[] | undefined;
  /** The database's clock at the last build or refresh. */
  #seenUntil = new Date(0);
  #builtAt = 0;

  constructor(repository: SuppressionStore, options: SuppressionListOptions) {
    this.#repository = repository;
    this.#now = options.now ?? Date.now;
    this.#cache = new LRUCache<string, SuppressionRecord | false>({
      // lru-cache allocates its arrays for `max` entries up front (100,000 cost 4 MB idle).
      max: Math.max(options.max, 1),
      ttl: Math.max(options.ttlMs, 1),
      fetchMethod: async (email) => (await repository.find(email)) ?? false,
    });
  }

  /** Whether lookups are remembered at all; with a TTL of 0 every lookup reads the database. */
  get #caching(): boolean {
    return this.#cache.ttl > 1;
  }

  async find(email: string): Promise<SuppressionRecord | undefined> {
    if (!this.#caching) return this.#repository.find(email);
    const address = normaliseAddress(email);
    if (this.#filter !== undefined && !this.#filter.mightContain(address)) return undefined;
    return (await this.#cache.fetch(address)) || undefined;
  }

  async add(entry: { email: string; reason: SuppressionReason; source: string; details?: string | null }) {
    const record = await this.#repository.add(entry);
    this.#filter?.add(record.email);
    this.#addedDuringBuild?.push(record.email);
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

  /**
   * Builds the filter the first time and every REBUILD_INTERVAL_MS; otherwise adds the addresses
   * suppressed since the last refresh. Run every `ttlMs` (a periodic task).
   */
  async refresh(): Promise<void> {
    if (!this.#caching) return;
    const filter = this.#filter;
    if (
      filter === undefined ||
      this.#now() - this.#builtAt >= REBUILD_INTERVAL_MS ||
      filter.count >= filter.capacity
    )
      return this.#build();
    const since = new Date(this.#seenUntil.getTime() - REFRESH_OVERLAP_MS);
    const { emails, now } = await this.#repository.addedSince(since, REFRESH_LIMIT);
    if (emails.length >= REFRESH_LIMIT) return this.#build();
    // The overlap brings the last minute's addresses every time: counted once, they do not fill
    // the filter towards a rebuild.
    for (const email of emails) if (!filter.mightContain(email)) filter.add(email);
    this.#seenUntil = now;
  }

  async #build(): Promise<void> {
    this.#addedDuringBuild = [];
    try {
      const { count, now } = await this.#repository.count();
      const filter = new AddressBloomFilter(Math.max(2 * count, MIN_FILTER_CAPACITY));
      for await (const page of this.#repository.addresses(FILTER_PAGE))
        for (const email of page) filter.add(email);
      for (const email of this.#addedDuringBuild) filter.add(email);
      this.#filter = filter;
      // Rows dated before `now` that committed after their page was read come with the next refresh.
      this.#seenUntil = now;
      this.#builtAt = this.#now();
    } finally {
      this.#addedDuringBuild = undefined;
    }
  }
}
