import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { openMigratedRouter } from "../../test/store.ts";
import { CachedSuppressionList, type SuppressionStore } from "./cached-suppression-list.ts";
import type { DatabaseRouter } from "./database-router.ts";
import { SuppressionRepository } from "./suppression-repository.ts";

let database: TestDatabase;
let router: DatabaseRouter;
let repository: SuppressionRepository;

beforeAll(async () => {
  database = await createTestDatabase();
  router = await openMigratedRouter({ DATABASE_URL: database.url });
  repository = new SuppressionRepository(router);
});
afterAll(async () => {
  await router?.destroy();
  await database?.drop();
});

describe("CachedSuppressionList", () => {
  it("applies its own changes at once and others' once the TTL has passed", async () => {
    const here = new CachedSuppressionList(repository, { ttlMs: 200, max: 100 });
    const elsewhere = new CachedSuppressionList(repository, { ttlMs: 60_000, max: 100 });
    expect(await here.find("a@example.org")).toBeUndefined();
    await here.add({ email: "A@example.org", reason: "manual", source: "api" });
    expect(await here.find("a@example.org")).toMatchObject({ reason: "manual" });

    expect(await here.find("b@example.org")).toBeUndefined();
    expect(await elsewhere.find("b@example.org")).toBeUndefined();
    // Added by another replica (a webhook there): a cached "no" holds until its TTL runs out.
    await repository.add({ email: "b@example.org", reason: "complaint", source: "ses" });
    expect(await elsewhere.find("b@example.org")).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await here.find("b@example.org")).toMatchObject({ reason: "complaint" });

    await here.remove("a@example.org");
    expect(await here.find("a@example.org")).toBeUndefined();
  });

  it("looks up every time with a TTL of 0", async () => {
    const uncached = new CachedSuppressionList(repository, { ttlMs: 0, max: 100 });
    expect(await uncached.find("c@example.org")).toBeUndefined();
    await repository.add({ email: "c@example.org", reason: "manual", source: "api" });
    expect(await uncached.find("c@example.org")).toBeDefined();
  });

  it("remembers at most max lookups, dropping the least recent", async () => {
    const small = new CachedSuppressionList(repository, { ttlMs: 60_000, max: 2 });
    for (const email of ["d@example.org", "e@example.org", "f@example.org"])
      expect(await small.find(email)).toBeUndefined();
    await repository.add({ email: "d@example.org", reason: "manual", source: "api" });
    await repository.add({ email: "f@example.org", reason: "manual", source: "api" });
    // d was dropped to make room for f, so it is looked up again; f's "no" is still remembered.
    expect(await small.find("d@example.org")).toMatchObject({ reason: "manual" });
    expect(await small.find("f@example.org")).toBeUndefined();
  });
});

describe("CachedSuppressionList's filter", () => {
  /** The repository, counting the lookups that reach the database. */
  function counted(): { store: SuppressionStore; reads: () => number } {
    let reads = 0;
    const store: SuppressionStore = {
      find: (email) => {
        reads++;
        return repository.find(email);
      },
      add: (entry) => repository.add(entry),
      remove: (email) => repository.remove(email),
      list: (options) => repository.list(options),
      count: () => repository.count(),
      addresses: (pageSize) => repository.addresses(pageSize),
      addedSince: (since, limit) => repository.addedSince(since, limit),
    };
    return { store, reads: () => reads };
  }

  it("answers for addresses never suppressed without reading the database once built", async () => {
    await repository.add({ email: "Known-Bounce@example.org", reason: "hard_bounce", source: "ses" });
    const { store, reads } = counted();
    const list = new CachedSuppressionList(store, { ttlMs: 60_000, max: 100 });
    expect(await list.find("fresh-0@example.org")).toBeUndefined();
    expect(reads()).toBe(1);

    await list.refresh();
    for (let i = 1; i <= 200; i++) expect(await list.find(`fresh-${i}@example.org`)).toBeUndefined();
    expect(reads()).toBe(1);
    // A suppressed address is read (once, then remembered), in any case.
    expect(await list.find("known-bounce@EXAMPLE.org")).toMatchObject({ reason: "hard_bounce" });
    expect(await list.find("known-bounce@example.org")).toMatchObject({ reason: "hard_bounce" });
    expect(reads()).toBe(2);
  });

  it("takes its own additions at once, another replica's at the next refresh", async () => {
    const list = new CachedSuppressionList(repository, { ttlMs: 60_000, max: 100 });
    await list.refresh();
    await list.add({ email: "here@example.org", reason: "unsubscribe", source: "api" });
    expect(await list.find("here@example.org")).toMatchObject({ reason: "unsubscribe" });

    await repository.add({ email: "elsewhere@example.org", reason: "complaint", source: "sendgrid" });
    expect(await list.find("elsewhere@example.org")).toBeUndefined();
    await list.refresh();
    expect(await list.find("elsewhere@example.org")).toMatchObject({ reason: "complaint" });

    await list.remove("here@example.org");
    expect(await list.find("here@example.org")).toBeUndefined();
  });

  it("is rebuilt every ten minutes, forgetting addresses removed meanwhile", async () => {
    let now = 1_000_000;
    const { store, reads } = counted();
    const list = new CachedSuppressionList(store, { ttlMs: 1_000, max: 100, now: () => now });
    await repository.add({ email: "removed-later@example.org", reason: "manual", source: "api" });
    await list.refresh();
    await repository.remove("removed-later@example.org");
    // Still in the filter: read from the database, which says it is not suppressed any more.
    expect(await list.find("removed-later@example.org")).toBeUndefined();
    expect(reads()).toBe(1);
    now += 10 * 60_000;
    await list.refresh();
    expect(await list.find("removed-later@example.org")).toBeUndefined();
    expect(reads()).toBe(1);
  });

  it("pages through a list larger than one query and sizes itself for it", async () => {
    const values = Array.from({ length: 25_000 }, (_, i) => `('bulk-${i}@example.org', 'manual', 'import')`);
    await sql
      .raw(`insert into email_suppressions (email, reason, source) values ${values.join(",")}`)
      .execute(router.master);
    const { store, reads } = counted();
    const list = new CachedSuppressionList(store, { ttlMs: 60_000, max: 100 });
    await list.refresh();
    expect(await list.find("bulk-0@example.org")).toBeDefined();
    expect(await list.find("bulk-24999@example.org")).toBeDefined();
    expect(reads()).toBe(2);
    let misses = 0;
    for (let i = 0; i < 2_000; i++) if ((await list.find(`reader-${i}@example.net`)) === undefined) misses++;
    expect(misses).toBe(2_000);
    // Roughly 1% false positives at full capacity; half full, far fewer reads.
    expect(reads() - 2).toBeLessThan(20);
  });
});
