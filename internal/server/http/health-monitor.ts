import { formatDuration } from "../../config/index.ts";
import type { Logger } from "../../log/logger.ts";
import type { ProviderCheck } from "../../provider/provider-checks.ts";
import type { ConsumerFailure } from "../../worker/worker-pool.ts";

export interface HealthMonitorOptions {
  version: string;
  /** Reaches the queue backend; rejects when it cannot. */
  checkQueue: () => Promise<unknown>;
  /** Reaches the master database; rejects when it cannot. */
  checkDatabase: () => Promise<unknown>;
  /** Replica state: "up", "down" or "none". */
  replicaState: () => string;
  /** Per provider: its circuit breaker state (closed, half-open, open). */
  providers: () => Record<string, string>;
  /** Per provider: the share of its recent sends that failed on its side. */
  providerErrorRates?: () => Record<string, number>;
  /** Per provider: its last self-check (configuration, credentials, reachability). */
  providerChecks?: () => readonly ProviderCheck[];
  /**
   * When the consume loop last went round; undefined for a process that consumes nothing (the
   * `api` role), whose liveness is its answering at all and whose health has no consumer in it.
   */
  lastConsumerTick: (() => Date) | undefined;
  /** Why fetching from the queue has been failing, and since when; undefined while it works. */
  consumerFailure?: () => ConsumerFailure | undefined;
  /**
   * How long fetches may fail before the instance counts as unable to consume (unhealthy, not
   * ready): long enough that one blip of the queue's connection does not pull the pod (default 5 s).
   */
  consumerFailureGraceMs?: number;
  /** Longer than this without a tick, the consumer is wedged and the process not live. */
  livenessThresholdMs: number;
  /** A dependency check slower than this counts as failed: probes must never hang. */
  checkTimeoutMs?: number;
  /**
   * How long one check of the queue and the database answers every probe: the probes are open, so
   * a flood of them must not become a flood of dependency calls (default a second).
   */
  checkIntervalMs?: number;
  /** Where a dependency going away, and coming back, is logged (once each way). */
  logger?: Pick<Logger, "warn" | "info">;
  now?: () => number;
}

export interface HealthReport {
  status: "healthy" | "degraded" | "unhealthy";
  timestamp: string;
  version: string;
  uptime: string;
  queue: "connected" | "disconnected";
  database: "connected" | "disconnected";
  /** "ok", or why this instance cannot take messages off the queue. */
  consumer: string;
  replica: string;
  providers: Record<string, string>;
  provider_error_rates: Record<string, number>;
  /** "ok", "pending", or why the provider's last self-check failed. */
  provider_checks: Record<string, string>;
  draining: boolean;
}

type Dependency = "queue" | "database";

/** The last check of the dependencies, shared by every probe until it is checkIntervalMs old. */
interface DependencyCheck {
  at: number;
  queue: boolean;
  database: boolean;
}

/** Undefined when `check` answered in time; otherwise why not. Never rejects. */
async function failureOf(check: () => Promise<unknown>, timeoutMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([check().then(() => undefined), timeout]);
  } catch (error) {
    return error ?? new Error("check failed");
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What the probes report. Liveness is the process itself: the consume loop must keep turning.
 * Readiness is whether this instance should get traffic: queue and master reachable and not
 * draining. /health is the Go service's JSON, with the replica and draining state added.
 */
export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  readonly #started: number;
  readonly #now: () => number;
  #draining = false;
  #last: DependencyCheck | undefined;
  #inFlight: Promise<DependencyCheck> | undefined;
  readonly #failing = new Set<Dependency>();

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
  }

  /** From now on readiness fails: the instance is shutting down. */
  startDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** No I/O: the consume loop's last tick against the clock (no consumer: answering is being live). */
  live(): { live: boolean; last_tick: string | null } {
    if (!this.#options.lastConsumerTick) return { live: true, last_tick: null };
    const last = this.#options.lastConsumerTick();
    const now = this.#now();
    return { live: now - last.getTime() <= this.#options.livenessThresholdMs, last_tick: last.toISOString() };
  }

  /**
   * The report. Queue and database come from the shared check (see #dependencies); the rest is
   * in memory and read fresh, so draining and provider circuits show at once.
   */
  async health(): Promise<HealthReport> {
    const { queue, database } = await this.#dependencies();
    const consumer = this.#consumerProblem();
    const replica = this.#options.replicaState();
    const providers = this.#options.providers();
    // An open circuit means jobs for that provider wait or fail over: still serving, but not well.
    const checks = this.#options.providerChecks?.() ?? [];
    const providerDown =
      Object.values(providers).includes("open") || checks.some((check) => check.state === "failed");
    const now = this.#now();
    const status =
      !queue || !database || consumer !== undefined
        ? "unhealthy"
        : replica === "down" || providerDown || this.#draining
          ? "degraded"
          : "healthy";
    return {
      status,
      timestamp: new Date(now).toISOString(),
      version: this.#options.version,
      uptime: formatDuration(Math.floor((now - this.#started) / 1000) * 1000),
      queue: queue ? "connected" : "disconnected",
      database: database ? "connected" : "disconnected",
      consumer: consumer ?? (this.#options.lastConsumerTick ? "ok" : "off (this process does not consume)"),
      replica,
      providers,
      provider_error_rates: this.#options.providerErrorRates?.() ?? {},
      provider_checks: Object.fromEntries(
        checks.map((check) => [
          check.provider,
          check.state === "failed" ? `failed: ${check.detail}` : check.state,
        ]),
      ),
      draining: this.#draining,
    };
  }

  /** Why the consumer cannot fetch, once it has failed for longer than the grace period. */
  #consumerProblem(): string | undefined {
    if (!this.#options.lastConsumerTick) return undefined;
    const failure = this.#options.consumerFailure?.();
    if (!failure) return undefined;
    const failingMs = this.#now() - failure.since.getTime();
    if (failingMs < (this.#options.consumerFailureGraceMs ?? 5_000)) return undefined;
    return `fetching from the queue has failed since ${failure.since.toISOString()}: ${failure.error}`;
  }

  async ready(): Promise<{ ready: boolean; report: HealthReport }> {
    const report = await this.health();
    return { ready: report.status !== "unhealthy" && !this.#draining, report };
  }

  /**
   * The last check while it is younger than checkIntervalMs; otherwise a new one, which every
   * probe arriving meanwhile waits for instead of starting its own.
   */
  #dependencies(): Promise<DependencyCheck> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    const last = this.#last;
    if (last && this.#now() - last.at < (this.#options.checkIntervalMs ?? 1_000))
      return Promise.resolve(last);
    const inFlight = this.#check().finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = inFlight;
    return inFlight;
  }

  async #check(): Promise<DependencyCheck> {
    const timeout = this.#options.checkTimeoutMs ?? 2_000;
    const [queue, database] = await Promise.all([
      failureOf(this.#options.checkQueue, timeout),
      failureOf(this.#options.checkDatabase, timeout),
    ]);
    this.#note("queue", queue);
    this.#note("database", database);
    const check = { at: this.#now(), queue: queue === undefined, database: database === undefined };
    this.#last = check;
    return check;
  }

  /** Logs a dependency's change of state only, not every failed check while it stays down. */
  #note(dependency: Dependency, failure: unknown): void {
    const logger = this.#options.logger;
    if (failure !== undefined && !this.#failing.has(dependency)) {
      this.#failing.add(dependency);
      logger?.warn({ dependency, err: failure }, "health check: dependency unreachable");
    } else if (failure === undefined && this.#failing.delete(dependency)) {
      logger?.info({ dependency }, "health check: dependency reachable again");
    }
  }
}
