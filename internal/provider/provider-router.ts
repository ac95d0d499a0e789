import { matchesGlob } from "node:path";
import type { EmailRoute } from "../config/index.ts";
import { DeliveryError } from "./delivery-error.ts";
import type { Provider } from "./provider.ts";

export interface ProviderRouterOptions {
  providers: ReadonlyMap<string, Provider>;
  routes: readonly EmailRoute[];
  defaultProvider: string;
}

/**
 * Chooses the provider for a job: the job's own `provider`, else the first route whose `job_type`
 * glob matches, else the default. Within a route's list, the first configured provider is used.
 */
export class ProviderRouter {
  readonly #providers: ReadonlyMap<string, Provider>;
  readonly #routes: readonly EmailRoute[];
  readonly #default: string;

  constructor(options: ProviderRouterOptions) {
    this.#providers = options.providers;
    this.#routes = options.routes;
    this.#default = options.defaultProvider;
  }

  /** The configured providers. */
  get names(): string[] {
    return [...this.#providers.keys()];
  }

  /** Provider names in order of preference for this job. */
  candidates(job: { type: string; provider?: string | undefined }): string[] {
    if (job.provider !== undefined) return [job.provider];
    const route = this.#routes.find((r) => matchesGlob(job.type, r.job_type));
    return route ? [...route.providers] : [this.#default];
  }

  select(job: { type: string; provider?: string | undefined }): Provider {
    const names = this.candidates(job);
    for (const name of names) {
      const provider = this.#providers.get(name);
      if (provider) return provider;
    }
    throw new DeliveryError(
      "permanent",
      "provider_not_configured",
      `no configured provider among ${names.join(", ")} (configured: ${[...this.#providers.keys()].join(", ")})`,
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.#providers.values()].map((p) => p.close()));
  }
}
