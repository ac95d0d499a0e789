import { formatDuration } from "../../config/index.ts";

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
  /** When the consume loop last went round. */
  lastConsumerTick: () => Date;
  /** Longer than this without a tick, the consumer is wedged and the process not live. */
  livenessThresholdMs: number;
  /** A dependency check slower than this counts as failed: probes must never hang. */
  checkTimeoutMs?: number;
  now?: () => number;
}

export interface HealthReport {
  status: "healthy" | "degraded" | "unhealthy";
  timestamp: string;
  version: string;
  uptime: string;
  queue: "connected" | "disconnected";
  database: "connected" | "disconnected";
  replica: string;
  providers: Record<string, string>;
  provider_error_rates: Record<string, number>;
  draining: boolean;
}

async function reachable(check: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([check().then(() => true), timeout]);
  } catch {
    return false;
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
  #draining = false;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
    this.#started = (options.now ?? Date.now)();
  }

  /** From now on readiness fails: the instance is shutting down. */
  startDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  live(): { live: boolean; last_tick: string } {
    const last = this.#options.lastConsumerTick();
    const now = (this.#options.now ?? Date.now)();
    return { live: now - last.getTime() <= this.#options.livenessThresholdMs, last_tick: last.toISOString() };
  }

  async health(): Promise<HealthReport> {
    const timeout = this.#options.checkTimeoutMs ?? 2_000;
    const [queue, database] = await Promise.all([
      reachable(this.#options.checkQueue, timeout),
      reachable(this.#options.checkDatabase, timeout),
    ]);
    const replica = this.#options.replicaState();
    const providers = this.#options.providers();
    // An open circuit means jobs for that provider wait or fail over: still serving, but not well.
    const providerDown = Object.values(providers).includes("open");
    const now = (this.#options.now ?? Date.now)();
    const status =
      !queue || !database
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
      replica,
      providers,
      provider_error_rates: this.#options.providerErrorRates?.() ?? {},
      draining: this.#draining,
    };
  }

  async ready(): Promise<{ ready: boolean; report: HealthReport }> {
    const report = await this.health();
    return { ready: report.status !== "unhealthy" && !this.#draining, report };
  }
}
