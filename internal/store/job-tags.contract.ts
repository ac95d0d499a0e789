import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseRouter } from "./database-router.ts";
import { JobRepository, type NewEmailJob, tagFilter } from "./job-repository.ts";

interface Opened {
  router: DatabaseRouter;
  close(): Promise<void>;
}

/** The tags, Cc/Bcc and sandbox columns (010), the same on PostgreSQL and PGlite. */
export function jobTagsContract(name: string, open: () => Promise<Opened>): void {
  describe(`tracked jobs' tags, Cc/Bcc and sandbox flag (${name})`, () => {
    let opened: Opened;
    let jobs: JobRepository;
    beforeAll(async () => {
      opened = await open();
      jobs = new JobRepository(opened.router);
    });
    afterAll(() => opened?.close());

    const create = (type: string, fields: Partial<NewEmailJob>) =>
      jobs.create({ job_type: type, recipient_email: `${randomUUID()}@example.org`, ...fields });

    it("lists the jobs carrying every tag asked for, and only those", async () => {
      const type = `tags_${randomUUID().slice(0, 8)}`;
      const both = await create(type, { tags: ["spring", "eu:west"] });
      const springOnly = await create(type, { tags: ["spring"] });
      await create(type, {});
      const ids = async (tags: string[]) =>
        (await jobs.list({ job_type: type, tags })).jobs.map((job) => job.id).sort();
      expect(await ids(["spring"])).toEqual([both.id, springOnly.id].sort());
      expect(await ids(["spring", "eu:west"])).toEqual([both.id]);
      expect(await ids(["eu:west", "spring"])).toEqual([both.id]);
      expect(await ids(["autumn"])).toEqual([]);
      expect(await ids([])).toHaveLength(3);
    });

    it("indexes only tagged jobs, and filters by tag as that index needs", async () => {
      const index = await sql<{ indexdef: string }>`
        select indexdef from pg_indexes where indexname = 'idx_email_jobs_tags'`.execute(
        opened.router.master,
      );
      expect(index.rows[0]?.indexdef).toMatch(/USING gin \(tags\) WHERE \(tags <> '\{\}'::text\[\]\)/);
      // The filter the list query writes, planned with sequential scans ruled out: a predicate the
      // partial index does not cover would leave the planner nothing but a scan.
      const plan = await opened.router.master.transaction().execute(async (trx) => {
        await sql`set local enable_seqscan = off`.execute(trx);
        return sql<{ "QUERY PLAN": string }>`
          explain select id from email_jobs where ${tagFilter(["spring"])}`.execute(trx);
      });
      expect(plan.rows.map((row) => row["QUERY PLAN"]).join("\n")).toContain("idx_email_jobs_tags");
    });

    it("keeps a job's tags, Cc, Bcc and sandbox flag, and gives older rows none", async () => {
      const row = await create("kept", {
        tags: ["a", "b"],
        cc: [{ email: "bob@example.org", name: "Bob" }],
        bcc: [{ email: "audit@example.org" }],
        sandbox: true,
      });
      expect(await jobs.get(row.id, { consistency: "strong" })).toMatchObject({
        tags: ["a", "b"],
        cc: [{ email: "bob@example.org", name: "Bob" }],
        bcc: [{ email: "audit@example.org" }],
        sandbox: true,
      });
      const plain = await create("plain", {});
      expect(plain).toMatchObject({ tags: [], cc: null, bcc: null, sandbox: false });
    });
  });
}
