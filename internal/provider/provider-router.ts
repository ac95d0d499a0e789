import { matchesGlob } from "node:path";
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  DelegateBackoff,
  handleWhen,
} from "cockatiel";
import type { EmailRoute } from "../config/index.ts";
import { asDeliveryError, DeliveryError, isDeliveryError } from "./delivery-error.ts";
import type { OutgoingEmail, Provider, SendResult } from "./provider.ts";
import type { ProviderGate } from "./provider-gate.ts";

export type BreakerState = "closed" | "open" | "half-open";

interface ProviderRouterOptions {
  providers: ReadonlyMap<string, Provider>;
  routes: readonly EmailRoute[];
  defaultProvider: string;
  /** Tried in order after the default provider (routes carry their own lists). */
  fallbackProviders?: readonly string[];
  breaker: { failureThreshold: number; halfOpenAfterMs: number };
  /** Rate and concurrency limits per provider. */
  gates?: ReadonlyMap<string, ProviderGate>;
  onBreakerStateChange?: (provider: string, state: BreakerState) => void;
}

const STATES: Record<number, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "open",
};

/** The first pause of an opened circuit: a relay back after a blip gets its trial within seconds. */
const FIRST_TRIAL_MS = 5_000;

/**
 * The pause before an open circuit lets its trial send through: 5 s the first time (or the
 * configured pause, if shorter), doubling after each failed trial up to the configured pause, and
 * give or take a quarter at random. Short at first, so a relay that stalled for a few seconds is
 * back in use soon after, not a whole pause later; long while it stays down. Jittered, because with
 * a fixed pause the trials fall into step with an outage that recurs at about the same period and
 * every trial meets it. `onPause` hears each pause drawn, as the circuit opens.
 */
export function halfOpenPause(
  pauseMs: number,
  random: () => number = Math.random,
  onPause?: (ms: number) => void,
): DelegateBackoff<{ attempt: number }> {
  return new DelegateBackoff(({ attempt }: { attempt: number }) => {
    const base = Math.min(pauseMs, FIRST_TRIAL_MS * 2 ** Math.max(0, attempt - 1));
    const ms = Math.round(base * (0.75 + random() * 0.5));
    onPause?.(ms);
    return ms;
  });
}

/** Provider trouble, as opposed to a bad message: counts against the breaker and allows failover. */
function providerAtFault(error: DeliveryError): boolean {
  return error.kind === "config" || error.kind === "transient";
}

/**
 * Chooses providers for a job and sends through them: the job's own `provider`, else the first route
 * whose `job_type` glob matches, else the default followed by the fallbacks. A transient or
 * configuration failure moves on to the next provider — unless the outcome was ambiguous (the
 * request may have been delivered), which is retried later on the same one. Each provider has a
 * circuit breaker (open after consecutive such failures, half-open after a jittered pause) and a gate for its
 * rate and concurrency limits.
 */
export class ProviderRouter {
  readonly #options: ProviderRouterOptions;
  readonly #breakers = new Map<string, CircuitBreakerPolicy>();
  /** When each open circuit lets its next trial through (epoch ms). */
  readonly #trialAt = new Map<string, number>();
  /** The last outcomes per provider (true: the provider was at fault), for its recent error rate. */
  readonly #recent = new Map<string, boolean[]>();

  constructor(options: ProviderRouterOptions) {
    this.#options = options;
    const { failureThreshold, halfOpenAfterMs } = options.breaker;
    for (const name of options.providers.keys()) {
      const breaker = circuitBreaker(
        handleWhen((error) => isDeliveryError(error) && providerAtFault(error)),
        {
          halfOpenAfter: halfOpenPause(halfOpenAfterMs, Math.random, (ms) =>
            this.#trialAt.set(name, Date.now() + ms),
          ),
          breaker: new ConsecutiveBreaker(failureThreshold),
        },
      );
      breaker.onStateChange((state) => options.onBreakerStateChange?.(name, STATES[state] ?? "open"));
      this.#breakers.set(name, breaker);
    }
  }

  /** The configured providers. */
  get names(): string[] {
    return [...this.#options.providers.keys()];
  }

  /** The providers by name, for what checks them rather than sends through them. */
  get providers(): ReadonlyMap<string, Provider> {
    return this.#options.providers;
  }

  /** Each provider's breaker state, for /health and metrics. */
  health(): Record<string, BreakerState> {
    return Object.fromEntries(
      [...this.#breakers].map(([name, breaker]) => [name, STATES[breaker.state] ?? "open"]),
    );
  }

  /** Each provider's share of provider-side failures over its last 100 sends. */
  errorRates(): Record<string, number> {
    return Object.fromEntries(
      this.names.map((name) => {
        const recent = this.#recent.get(name) ?? [];
        const failures = recent.filter(Boolean).length;
        return [name, recent.length === 0 ? 0 : Math.round((failures / recent.length) * 1000) / 1000];
      }),
    );
  }

  #remember(name: string, providerFault: boolean): void {
    const recent = this.#recent.get(name) ?? [];
    recent.push(providerFault);
    if (recent.length > 100) recent.shift();
    this.#recent.set(name, recent);
  }

  /** Provider names in order of preference for this job. */
  candidates(job: { type: string; provider?: string | undefined }): string[] {
    if (job.provider !== undefined) return [job.provider];
    const route = this.#options.routes.find((r) => matchesGlob(job.type, r.job_type));
    return route
      ? [...route.providers]
      : [this.#options.defaultProvider, ...(this.#options.fallbackProviders ?? [])];
  }

  /**
   * A sandbox job's stand-in for `send`: the provider `send` would try first composes (and signs)
   * the message, and nothing goes out. No breaker, gate or failover: nothing is asked of the
   * provider, so nothing counts against it or waits for its turn.
   */
  async sandbox(
    job: { type: string; provider?: string | undefined },
    email: OutgoingEmail,
  ): Promise<{ provider: string; message: Buffer | undefined }> {
    const name = this.candidates(job).find((candidate) => this.#options.providers.has(candidate));
    if (name === undefined) throw this.#notConfigured(job);
    const provider = this.#options.providers.get(name) as Provider;
    try {
      return { provider: name, message: await provider.compose?.(email) };
    } catch (caught) {
      const error = asDeliveryError(caught);
      error.provider ??= name;
      throw error;
    }
  }

  #notConfigured(job: { type: string; provider?: string | undefined }): DeliveryError {
    return new DeliveryError(
      "permanent",
      "provider_not_configured",
      `no configured provider among ${this.candidates(job).join(", ")} (configured: ${this.names.join(", ")})`,
    );
  }

  async send(
    job: { type: string; provider?: string | undefined },
    email: OutgoingEmail,
    signal?: AbortSignal,
  ): Promise<SendResult> {
    const names = this.candidates(job).filter((name) => this.#options.providers.has(name));
    if (names.length === 0) throw this.#notConfigured(job);
    let last: DeliveryError | undefined;
    for (const name of names) {
      const provider = this.#options.providers.get(name) as Provider;
      const breaker = this.#breakers.get(name) as CircuitBreakerPolicy;
      const gate = this.#options.gates?.get(name);
      try {
        // An open circuit refuses here (or lets one trial through once it is half-open).
        return await breaker.execute(async () => {
          const release = await gate?.acquire(signal);
          try {
            const result = await provider.send(email, signal);
            this.#remember(name, false);
            return result;
          } catch (error) {
            const failure = asDeliveryError(error);
            // Throttling is the provider pacing us, not failing; a bad message is not its fault.
            if (failure.kind !== "throttled") this.#remember(name, providerAtFault(failure));
            throw error;
          } finally {
            release?.();
          }
        });
      } catch (caught) {
        if (caught instanceof BrokenCircuitError) continue;
        const error = asDeliveryError(caught);
        error.provider ??= name;
        if (!providerAtFault(error) || error.ambiguous) throw error;
        last = error;
      }
    }
    // Every candidate failed or is switched off by its breaker: the job waits, keeping its attempts
    // when no provider could even be tried.
    throw (
      last ??
      new DeliveryError(
        "throttled",
        "circuit_open",
        `every provider for this job is paused (${names.join(", ")})`,
        { retryAfterMs: this.#untilTrial(names) },
      )
    );
  }

  /**
   * How long a job turned away by open circuits waits: until just after the first of their trials,
   * so that once a trial has closed a circuit the jobs parked behind it follow within a second or
   * two instead of a whole pause later.
   */
  #untilTrial(names: readonly string[]): number {
    const now = Date.now();
    const next = Math.min(...names.map((name) => this.#trialAt.get(name) ?? now));
    return Math.max(next - now, 0) + 1_000;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#options.providers.values()].map((p) => p.close()));
  }
}
