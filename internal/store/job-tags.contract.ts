import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseRouter } from "./database-router.ts";
import { JobRepository, type NewEmailJob } from "./job-repository.ts";

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
