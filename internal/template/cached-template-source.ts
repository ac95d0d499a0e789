import { LRUCache } from "lru-cache";
import type { TemplateDefinition, TemplateSource } from "./renderer.ts";

interface CachedTemplateSourceOptions {
  load: (id: string) => Promise<TemplateDefinition | undefined>;
  /** A row is read again after this long; edits made elsewhere show up within it. */
  ttlMs: number;
}

/** Template rows kept: far more than a deployment has, so only a flood of unknown ids evicts. */
const MAX_CACHED_TEMPLATES = 1_000;

/**
 * Keeps template rows in memory so the fast path does not read the database per email. Concurrent
 * misses for one id share a single read. Edits made through this process call `invalidate`.
 */
export class CachedTemplateSource implements TemplateSource {
  readonly #cache: LRUCache<string, TemplateDefinition>;

  constructor(options: CachedTemplateSourceOptions) {
    this.#cache = new LRUCache<string, TemplateDefinition>({
      max: MAX_CACHED_TEMPLATES,
      ttl: Math.max(options.ttlMs, 1),
      fetchMethod: (id) => options.load(id),
    });
  }

  async get(id: string): Promise<TemplateDefinition | undefined> {
    return this.#cache.fetch(id);
  }

  invalidate(id: string): void {
    this.#cache.delete(id);
  }
}
