import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdempotencyStore } from "./idempotency.ts";

/** The idempotency-store contract: every store passes the same suite. */
export function idempotencyContract(
  name: string,
  open: () => Promise<{ store: IdempotencyStore; close(): Promise<void> }>,
) {
  describe(`idempotency keys on ${name}`, () => {
    let store: IdempotencyStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(async () => close?.());

    it("gives a key to the first job and names it to every later one", async () => {
      const key = randomUUID();
      const [first, second] = [randomUUID(), randomUUID()];
      expect(await store.reserve(key, first, 60_000)).toEqual({
        job_id: first,
        state: "queued",
        created: true,
      });
      expect(await store.reserve(key, second, 60_000)).toEqual({
        job_id: first,
        state: "queued",
        created: false,
      });
      expect(await store.reserve(key, first, 60_000)).toEqual({
        job_id: first,
        state: "queued",
        created: false,
      });
    });

    it("keeps the fingerprint of the request the key was first used for, after it was sent too", async () => {
      const key = randomUUID();
      const [first, second] = [randomUUID(), randomUUID()];
      expect(await store.reserve(key, first, 60_000, "a1b2")).toEqual({
        job_id: first,
        state: "queued",
        created: true,
        fingerprint: "a1b2",
      });
      expect(await store.reserve(key, second, 60_000, "ffff")).toEqual({
        job_id: first,
        state: "queued",
        created: false,
        fingerprint: "a1b2",
      });
      await store.markSent(key, first);
      expect(await store.reserve(key, second, 60_000, "ffff")).toMatchObject({
        state: "sent",
        fingerprint: "a1b2",
      });
    });

    it("remembers that the owner's email went out, and ignores anyone else's claim to it", async () => {
      const key = randomUUID();
      const owner = randomUUID();
      await store.reserve(key, owner, 60_000);
      await store.markSent(key, randomUUID());
      expect((await store.reserve(key, owner, 60_000)).state).toBe("queued");
      await store.markSent(key, owner);
      expect(await store.reserve(key, randomUUID(), 60_000)).toEqual({
        job_id: owner,
        state: "sent",
        created: false,
      });
    });

    it("lets only the owner release a key", async () => {
      const key = randomUUID();
      const owner = randomUUID();
      await store.reserve(key, owner, 60_000);
      await store.release(key, randomUUID());
      expect((await store.reserve(key, randomUUID(), 60_000)).job_id).toBe(owner);
      await store.release(key, owner);
      const next = randomUUID();
      expect((await store.reserve(key, next, 60_000)).job_id).toBe(next);
    });

    it("lets a key be used again once it has expired", async () => {
      const key = randomUUID();
      await store.reserve(key, randomUUID(), 50);
      await sleep(120);
      await store.cleanup();
      const fresh = randomUUID();
      expect(await store.reserve(key, fresh, 60_000)).toEqual({
        job_id: fresh,
        state: "queued",
        created: true,
      });
    });

    it("hands a key to exactly one of many concurrent jobs", async () => {
      const key = randomUUID();
      const jobs = Array.from({ length: 10 }, () => randomUUID());
      const results = await Promise.all(jobs.map((job) => store.reserve(key, job, 60_000)));
      const owners = new Set(results.map((r) => r.job_id));
      expect(owners.size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
    });
  });
}
