import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../../test/postgres.ts";
import { queueSettings } from "../../../test/queue-settings.ts";
import { openMigratedRouter } from "../../../test/store.ts";
import type { Lane } from "../../job/priority.ts";
import type { DatabaseRouter } from "../../store/database-router.ts";
import type { Delivery } from "../queue.ts";
import { PostgresQueue } from "./postgres-queue.ts";

const body = (n: number | string) => JSON.stringify({ n });
const numberOf = (d: Delivery) => (JSON.parse(d.body) as { n: number | string }).n;

describe("postgres queue: claims in batches ahead of the fetches", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(): Promise<{
    router: DatabaseRouter;
    open: (options: { claimBatch: number; visibilityTimeoutMs?: number }) => PostgresQueue;
  }> {
    const database = await createTestDatabase();
    const router = await openMigratedRouter({ DATABASE_URL: database.url });
    cleanups.push(async () => {
      await router.destroy();
      await database.drop();
    });
    const open = (options: { claimBatch: number; visibilityTimeoutMs?: number }) => {
      const queue = new PostgresQueue({
        ...queueSettings().postgres,
        db: router.master,
        visibilityTimeoutMs: 30_000,
        pollIntervalMs: 100,
        ...options,
      });
      cleanups.push(() => queue.close());
      return queue;
    };
    return { router, open };
  }

  it("holds the rows it claimed ahead from other consumers, and gives back on close what it never handed out", async () => {
    const { open } = await start();
    const first = open({ claimBatch: 20 });
    await first.publish(Array.from({ length: 60 }, (_, n) => ({ body: body(n), lane: "normal" as Lane })));
    const handedOut = await first.fetch(5);
    expect(handedOut).toHaveLength(5);
    const other = open({ claimBatch: 100 });
    const taken = await other.fetch(100);
    const held = new Set([...handedOut, ...taken].map(numberOf));
    expect(held.size).toBe(handedOut.length + taken.length);
    expect(taken.length).toBeLessThan(60 - handedOut.length);

    await first.close();
    const returned = await other.fetch(100);
    expect(returned.length + taken.length + handedOut.length).toBe(60);
    expect(returned.every((d) => !d.redelivered)).toBe(true);
    expect(new Set([...held, ...returned.map(numberOf)]).size).toBe(60);
  });

  it("gives a lower lane its share within large batches", async () => {
    const { open } = await start();
    const queue = open({ claimBatch: 50 });
    await queue.publish(Array.from({ length: 300 }, (_, n) => ({ body: body(n), lane: "high" as Lane })));
    await queue.publish(
      Array.from({ length: 30 }, (_, n) => ({ body: body(`low-${n}`), lane: "low" as Lane })),
    );
    const got: Delivery[] = [];
    while (got.length < 200) got.push(...(await queue.fetch(10)));
    const low = got.filter((d) => d.lane === "low").length;
    expect(low).toBeGreaterThanOrEqual(2);
    expect(low).toBeLessThan(30);
  });
});
