import { LANES, type Lane } from "../../job/priority.ts";

/** Every Redis key the service uses for one queue. */
export interface QueueKeys {
  /** The lane streams publishers XADD to. */
  streams: Record<Lane, string>;
  /** Sorted set of scheduled and retry messages. */
  delayed: string;
  /** Dead-letter stream. */
  dead: string;
  /** Marker whose disappearance means Redis lost the queue's data. */
  instance: string;
  /** Prefix of the idempotency keys. */
  idempotencyPrefix: string;
  /** Prefix of the provider rate limiters and concurrency slots. */
  ratePrefix: string;
}

/**
 * The one place queue keys are named. Tagged, the queue name is a hash tag (`{email-jobs}:normal`),
 * so every key of the queue lands in one Redis Cluster slot and the Lua scripts and MULTI blocks that
 * touch several of them can run. Untagged is the layout existing deployments and their publishers
 * already use (`email-jobs:normal`); switching layouts strands whatever the old keys hold.
 */
export function queueKeys(name: string, tagged: boolean): QueueKeys {
  const base = tagged ? `{${name}}` : name;
  const streams = Object.fromEntries(LANES.map((lane) => [lane, `${base}:${lane}`])) as Record<Lane, string>;
  return {
    streams,
    delayed: `${base}:delayed`,
    dead: `${base}:dead`,
    instance: `${base}:instance`,
    idempotencyPrefix: `${base}:idem:`,
    ratePrefix: `${base}:rate`,
  };
}

/** A cluster needs the tagged layout; elsewhere it is opt-in, so publishers can move first. */
export function usesHashTags(settings: { cluster_nodes: readonly string[]; hash_tags: boolean }): boolean {
  return settings.cluster_nodes.length > 0 || settings.hash_tags;
}
