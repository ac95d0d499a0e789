import pg from "pg";
import type { PostgresUrl } from "../config/postgres-url.ts";
import { HostRotation, type SessionState, sessionMatches } from "./host-rotation.ts";

/** A host that refused, timed out, or turned out to have the wrong role; the next one may do. */
export class HostUnusableError extends Error {
  override readonly name = "HostUnusableError";
  readonly code: string;

  constructor(message: string, code: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.code = code;
  }
}

type ConnectCallback = ((err: Error) => void) | ((err: null, client: pg.Client) => void);

async function sessionState(client: pg.Client): Promise<SessionState> {
  const { rows } = await client.query<{ in_recovery: boolean; read_only: string }>(
    "select pg_is_in_recovery() as in_recovery, current_setting('transaction_read_only') as read_only",
  );
  const row = rows[0];
  return { inRecovery: row?.in_recovery === true, readOnly: row?.read_only === "on" };
}

/**
 * A pg.Client class for pg.Pool's `Client` option: each client goes to the rotation's current host
 * and, before the pool hands it out, checks the server is what target_session_attrs asks for. A
 * client that cannot connect or finds the wrong role moves the rotation on and fails, so the pool
 * discards it and the next connection tries the next host: after a failover, new connections reach
 * the promoted server without a restart.
 */
export function multiHostClient(url: PostgresUrl, rotation = new HostRotation(url.hosts)): typeof pg.Client {
  const attrs = url.targetSessionAttrs;
  return class MultiHostClient extends pg.Client {
    readonly #hostIndex: number;
    readonly #where: string;

    constructor(config?: pg.ClientConfig) {
      const index = rotation.current();
      const host = rotation.host(index);
      super({ ...config, connectionString: url.forHost(host) });
      this.#hostIndex = index;
      this.#where = `${host.host}:${host.port}`;
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<pg.Client> | undefined {
      const connecting = this.#connectToTarget().then(() => this);
      if (callback === undefined) return connecting;
      // pg-pool connects with a callback, reading a null first argument as success.
      const done = callback as (err: Error | null, client?: pg.Client) => void;
      connecting.then((client) => done(null, client), done);
      return undefined;
    }

    async #connectToTarget(): Promise<void> {
      try {
        await super.connect();
      } catch (error) {
        rotation.failed(this.#hostIndex);
        const code = (error as { code?: unknown }).code;
        throw new HostUnusableError(
          `cannot connect to ${this.#where}: ${(error as Error).message}`,
          typeof code === "string" ? code : "connection_failed",
          { cause: error },
        );
      }
      if (attrs === "any") return;
      let state: SessionState;
      try {
        state = await sessionState(this);
      } catch (error) {
        return this.#reject(
          `cannot check it for target_session_attrs=${attrs}: ${(error as Error).message}`,
          error,
        );
      }
      if (!sessionMatches(attrs, state)) return this.#reject(`it is not ${attrs} (target_session_attrs)`);
    }

    async #reject(reason: string, cause?: unknown): Promise<never> {
      rotation.failed(this.#hostIndex);
      await this.end().catch(() => {});
      throw new HostUnusableError(`${this.#where} cannot be used: ${reason}`, "wrong_session_attrs", {
        cause,
      });
    }
  };
}
