import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasPostgresServer, requires } from "../../test/outside-tools.ts";
import { type ReplicaCluster, startReplicaCluster } from "../../test/replica-cluster.ts";
import { openMigratedRouter } from "../../test/store.ts";
import type { DatabaseRouter } from "./database-router.ts";
import { JobRepository } from "./job-repository.ts";

/** Replication is asynchronous: poll for what was just written rather than sleeping. */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}

const postgresServer = requires(
  "the PostgreSQL server programs (initdb, pg_basebackup)",
  hasPostgresServer(),
);

describe.skipIf(postgresServer.skip)(
  `master/replica routing against a real streaming replica${postgresServer.label}`,
  () => {
    let cluster: ReplicaCluster;
    let router: DatabaseRouter;
    let jobs: JobRepository;

    const inRecovery = (db: Parameters<Parameters<DatabaseRouter["read"]>[0]>[0]) =>
      sql<{ in_recovery: boolean }>`select pg_is_in_recovery() as in_recovery`
        .execute(db)
        .then((r) => r.rows[0]?.in_recovery);

    beforeAll(async () => {
      cluster = await startReplicaCluster();
      router = await openMigratedRouter({
        DATABASE_URL: cluster.primaryUrl,
        DATABASE_REPLICA_URL: cluster.replicaUrl,
        DB_REPLICA_RETRY_INTERVAL: "200ms",
        DB_CONNECT_TIMEOUT: "1s",
      });
      jobs = new JobRepository(router);
      // The migrations reach the replica asynchronously too.
      await eventually(() =>
        router
          .read((db) =>
            sql<{ table: string | null }>`select to_regclass('email_jobs')::text as table`.execute(db),
          )
          .then((r) => r.rows[0]?.table ?? undefined),
      );
    });

    afterAll(async () => {
      await router?.destroy();
      await cluster?.destroy();
    });

    it("sends plain reads to the replica and writes to the master", async () => {
      expect(await router.read(inRecovery)).toBe(true);
      expect(await inRecovery(router.master)).toBe(false);
      expect(router.status().state).toBe("up");
    });

    it("passes a query's own error through instead of treating it as an outage", async () => {
      await expect(router.read((db) => sql`select * from no_such_table`.execute(db))).rejects.toMatchObject({
        code: "42P01",
      });
      expect(router.status()).toMatchObject({ state: "up", fallback_reads: 0 });
    });

    it("writes on the master and the row shows up on the replica", async () => {
      const job = await jobs.create({ job_type: "welcome_email", recipient_email: "r@example.com" });
      expect(await jobs.get(job.id, { consistency: "strong" })).toMatchObject({ id: job.id });
      const replicated = await eventually(() => jobs.get(job.id));
      expect(replicated.id).toBe(job.id);
    });

    it("falls back to the master without an error when the replica stops, and returns when it is back", async () => {
      const job = await jobs.create({ job_type: "welcome_email", recipient_email: "f@example.com" });
      await eventually(() => jobs.get(job.id));

      await cluster.stopReplica();
      // The pool's connections to the replica are now dead; the read must still succeed.
      expect(await jobs.get(job.id)).toMatchObject({ id: job.id });
      expect(await router.read(inRecovery)).toBe(false);
      const page = await jobs.list({ job_type: "welcome_email" });
      expect(page.jobs.map((j) => j.id)).toContain(job.id);
      const status = router.status();
      expect(status.state).toBe("down");
      expect(status.fallback_reads).toBeGreaterThanOrEqual(3);

      await cluster.startReplica();
      expect(await eventually(async () => ((await router.read(inRecovery)) ? true : undefined))).toBe(true);
      expect(router.status().state).toBe("up");
    });
  },
);
