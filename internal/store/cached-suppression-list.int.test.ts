import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { openMigratedRouter } from "../../test/store.ts";
import { CachedSuppressionList } from "./cached-suppression-list.ts";
import type { DatabaseRouter } from "./database-router.ts";
import { SuppressionRepository } from "./suppression-repository.ts";

describe("CachedSuppressionList", () => {
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
