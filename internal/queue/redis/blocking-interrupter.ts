import type { Cluster, Redis } from "ioredis";
import type { RedisClient } from "./connect-redis.ts";

const nodeKey = (node: Redis) => `${node.options.host}:${node.options.port}`;

/**
 * Ends a blocking read early (CLIENT UNBLOCK from the other connection) so a stop does not wait out
 * the poll interval. The blocked connection's client id changes whenever it reconnects (a restart,
 * a Sentinel failover), and on a cluster it is an id on the one node serving the queue's slot.
 */
export class BlockingInterrupter {
  readonly #redis: RedisClient;
  readonly #blocking: RedisClient;
  /** A key of the queue: its slot decides which cluster node the blocking read goes to. */
  readonly #key: string;
  #clientId: number | undefined;
  #slot: number | undefined;

  constructor(redis: RedisClient, blocking: RedisClient, key: string) {
    this.#redis = redis;
    this.#blocking = blocking;
    this.#key = key;
  }

  async init(): Promise<void> {
    if (this.#blocking.isCluster) return;
    const blocking = this.#blocking as Redis;
    blocking.on("ready", () => {
      this.#clientId = undefined;
      blocking.client("ID").then(
        (id) => {
          this.#clientId = Number(id);
        },
        () => {},
      );
    });
    this.#clientId = Number(await blocking.client("ID"));
  }

  /**
   * Called just before a blocking read; returns what interrupts it. On a cluster this asks the
   * serving node for the connection's id, one round trip on the idle path only.
   */
  async prepare(): Promise<() => void> {
    if (!this.#blocking.isCluster) {
      return () => {
        if (this.#clientId !== undefined) this.#redis.client("UNBLOCK", this.#clientId).catch(() => {});
      };
    }
    const blocking = this.#blocking as Cluster;
    const redis = this.#redis as Cluster;
    this.#slot ??= Number(await redis.cluster("KEYSLOT", this.#key));
    const owner = blocking.slots[this.#slot]?.[0];
    const blocked = blocking.nodes("master").find((node) => nodeKey(node) === owner);
    const id = blocked ? Number(await blocked.client("ID")) : undefined;
    return () => {
      const other = redis.nodes("master").find((node) => nodeKey(node) === owner);
      if (id !== undefined) other?.client("UNBLOCK", id).catch(() => {});
    };
  }
}
