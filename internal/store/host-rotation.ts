import type { PostgresHost, TargetSessionAttrs } from "../config/postgres-url.ts";

/** What a fresh session reports about its server, enough to judge any target_session_attrs. */
export interface SessionState {
  /** `pg_is_in_recovery()`: the server is a standby. */
  inRecovery: boolean;
  /** `SHOW transaction_read_only`: the session cannot write (a standby, or default_transaction_read_only). */
  readOnly: boolean;
}

/** Whether a session on a server in `state` is what target_session_attrs asks for (as libpq judges it). */
export function sessionMatches(attrs: TargetSessionAttrs, state: SessionState): boolean {
  switch (attrs) {
    case "any":
      return true;
    case "read-write":
      return !state.readOnly;
    case "read-only":
      return state.readOnly;
    case "primary":
      return !state.inRecovery;
    case "standby":
      return state.inRecovery;
  }
}

/**
 * Which of several hosts a new connection goes to. New connections stay on the host that last
 * worked, so that a dead host listed first costs one failed attempt per failover rather than one per
 * connection; a host that fails (refused, timed out, wrong role) hands over to the next in the list,
 * wrapping round. Connections failing together on the same host move the rotation on once.
 */
export class HostRotation {
  readonly hosts: readonly PostgresHost[];
  #current = 0;

  constructor(hosts: readonly PostgresHost[]) {
    if (hosts.length === 0) throw new Error("a host rotation needs at least one host");
    this.hosts = hosts;
  }

  /** The index of the host the next connection should try. */
  current(): number {
    return this.#current;
  }

  host(index: number): PostgresHost {
    return this.hosts[index] as PostgresHost;
  }

  /** The host at `index` could not be used: move on, unless another connection already did. */
  failed(index: number): void {
    if (this.#current === index) this.#current = (index + 1) % this.hosts.length;
  }
}
