import type { Logger } from "../log/logger.ts";
import { maskEmailsInText } from "../log/mask.ts";
import { asDeliveryError } from "./delivery-error.ts";
import type { Provider } from "./provider.ts";

/** One provider's last self-check. */
export interface ProviderCheck {
  provider: string;
  state: "pending" | "ok" | "failed";
  /** What was checked, or why it failed: the provider's own words, addresses masked, no secrets. */
  detail: string;
  /** The failure's DeliveryError code (`smtp_auth_535`, `sendgrid_scope`, …). */
  code?: string;
  checked_at?: Date;
}

interface ProviderChecksOptions {
  providers: ReadonlyMap<string, Provider>;
  /** A check slower than this fails: a relay that never answers is as unusable as one that refuses. */
  timeoutMs: number;
  logger: Pick<Logger, "info" | "warn">;
  now?: () => Date;
}

/**
 * Each provider's configuration checked without sending anything (Provider.verify): at start-up,
 * so a wrong password or an unreachable relay shows at once instead of on the first email, and on
 * demand (`emailctl providers verify`). A failed check is reported, never fatal: the other
 * providers serve, and the router's circuit breaker still decides per send.
 */
export class ProviderChecks {
  readonly #options: ProviderChecksOptions;
  readonly #latest = new Map<string, ProviderCheck>();
  readonly #now: () => Date;

  constructor(options: ProviderChecksOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    for (const name of options.providers.keys())
      this.#latest.set(name, { provider: name, state: "pending", detail: "not checked yet" });
  }

  /** Checks every provider at once; each result as it ended (checks never reject). */
  async run(): Promise<ProviderCheck[]> {
    return Promise.all([...this.#options.providers.values()].map((provider) => this.#check(provider)));
  }

  latest(): ProviderCheck[] {
    return [...this.#latest.values()];
  }

  async #check(provider: Provider): Promise<ProviderCheck> {
    let check: ProviderCheck;
    try {
      const detail = await provider.verify(AbortSignal.timeout(this.#options.timeoutMs));
      check = {
        provider: provider.name,
        state: "ok",
        detail: maskEmailsInText(detail),
        checked_at: this.#now(),
      };
      this.#options.logger.info({ provider: provider.name, detail: check.detail }, "provider check passed");
    } catch (error) {
      const failure = asDeliveryError(error);
      check = {
        provider: provider.name,
        state: "failed",
        detail: maskEmailsInText(failure.message),
        code: failure.code,
        checked_at: this.#now(),
      };
      this.#options.logger.warn(
        { provider: provider.name, code: failure.code, detail: check.detail },
        "provider check failed: sends through it will fail until its configuration is fixed",
      );
    }
    this.#latest.set(provider.name, check);
    return check;
  }
}
