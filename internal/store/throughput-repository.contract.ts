import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseRouter } from "./database-router.ts";
import { ThroughputRepository } from "./throughput-repository.ts";

interface Opened {
  router: DatabaseRouter;
  close(): Promise<void>;
}

const MINUTE = 60_000;

/**
 * The per-minute throughput history (015), the same on PostgreSQL and PGlite. Each test works in
 * its own year, so tests sharing the database never see each other's minutes.
 */
export function throughputRepositoryContract(name: string, open: () => Promise<Opened>): void {
  describe(`throughput history (${name})`, () => {
    let opened: Opened;
    beforeAll(async () => {
      opened = await open();
    });
    afterAll(() => opened?.close());

    it("adds what two replicas report for the same minute, also at once", async () => {
      const replicaA = new ThroughputRepository(opened.router);
      const replicaB = new ThroughputRepository(opened.router);
      const minute = new Date("2031-03-04T05:06:00Z");
      await replicaA.add(minute, { sent: 5, failed: 1 });
      // Seconds into the minute land on the minute.
      await replicaB.add(new Date(minute.getTime() + 42_500), { sent: 3, failed: 0 });
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? replicaA : replicaB).add(minute, { sent: 1, failed: 1 }),
        ),
      );
      const hour = await replicaA.lastHour(new Date(minute.getTime() + 10_000));
      expect(hour.at(-1)).toEqual({ minute, sent: 28, failed: 21 });
      expect(typeof hour.at(-1)?.sent).toBe("number");
    });

    it("answers the last hour: 60 minutes, oldest first, now's last, zeros where nothing was added", async () => {
      const repository = new ThroughputRepository(opened.router);
      const now = new Date("2032-07-08T12:34:56.789Z");
      const current = new Date("2032-07-08T12:34:00Z").getTime();
      await repository.add(new Date(current), { sent: 7, failed: 2 });
      await repository.add(new Date(current - 59 * MINUTE), { sent: 1, failed: 0 });
      await repository.add(new Date(current - 10 * MINUTE), { sent: 0, failed: 4 });
      // Outside the hour on either side.
      await repository.add(new Date(current - 60 * MINUTE), { sent: 100, failed: 100 });
      await repository.add(new Date(current + MINUTE), { sent: 100, failed: 100 });
      // Nothing to add: no row.
      await repository.add(new Date(current - 5 * MINUTE), { sent: 0, failed: 0 });

      const hour = await repository.lastHour(now);
      expect(hour).toHaveLength(60);
      expect(hour.map((m) => m.minute.getTime())).toEqual(
        Array.from({ length: 60 }, (_, i) => current - (59 - i) * MINUTE),
      );
      expect(hour[0]).toEqual({ minute: new Date(current - 59 * MINUTE), sent: 1, failed: 0 });
      expect(hour[49]).toEqual({ minute: new Date(current - 10 * MINUTE), sent: 0, failed: 4 });
      expect(hour[59]).toEqual({ minute: new Date(current), sent: 7, failed: 2 });
      expect(hour.reduce((sum, m) => sum + m.sent, 0)).toBe(8);
      expect(hour.reduce((sum, m) => sum + m.failed, 0)).toBe(6);

      const quiet = await repository.lastHour(new Date("2032-01-01T00:00:00Z"));
      expect(quiet).toHaveLength(60);
      expect(quiet.every((m) => m.sent === 0 && m.failed === 0)).toBe(true);
    });

    it("deletes the minutes before a time, and only those", async () => {
      const repository = new ThroughputRepository(opened.router);
      const base = new Date("2001-01-01T00:00:00Z").getTime();
      for (const offset of [0, 1, 2, 3])
        await repository.add(new Date(base + offset * MINUTE), { sent: 1, failed: 0 });
      expect(await repository.deleteBefore(new Date(base + 2 * MINUTE))).toBe(2);
      expect(await repository.deleteBefore(new Date(base + 2 * MINUTE))).toBe(0);
      const hour = await repository.lastHour(new Date(base + 3 * MINUTE));
      expect(hour.slice(-4).map((m) => m.sent)).toEqual([0, 0, 1, 1]);
    });
  });
}
