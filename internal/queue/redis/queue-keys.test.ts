import { describe, expect, it } from "vitest";
import { queueKeys, usesHashTags } from "./queue-keys.ts";

describe("queueKeys", () => {
  it("keeps the layout existing publishers XADD to when untagged", () => {
    expect(queueKeys("email-jobs", false)).toEqual({
      streams: {
        critical: "email-jobs:critical",
        high: "email-jobs:high",
        normal: "email-jobs:normal",
        low: "email-jobs:low",
      },
      delayed: "email-jobs:delayed",
      dead: "email-jobs:dead",
      instance: "email-jobs:instance",
      idempotencyPrefix: "email-jobs:idem:",
      ratePrefix: "email-jobs:rate",
    });
  });

  it("wraps the queue name in a hash tag in every key when tagged, so all share one cluster slot", () => {
    const keys = queueKeys("email-jobs", true);
    const all = [
      ...Object.values(keys.streams),
      keys.delayed,
      keys.dead,
      keys.instance,
      keys.idempotencyPrefix,
      keys.ratePrefix,
    ];
    // Redis hashes only what is between the first { and the next }: the same text in every key.
    for (const key of all) expect(key.startsWith("{email-jobs}:"), key).toBe(true);
    expect(keys.streams.normal).toBe("{email-jobs}:normal");
  });

  it("uses hash tags on a cluster whatever hash_tags says, and elsewhere only when asked", () => {
    expect(usesHashTags({ cluster_nodes: ["r1:7000"], hash_tags: false })).toBe(true);
    expect(usesHashTags({ cluster_nodes: [], hash_tags: true })).toBe(true);
    expect(usesHashTags({ cluster_nodes: [], hash_tags: false })).toBe(false);
  });
});
