import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTemplate,
  deleteJob,
  latestTrackingEvent,
  latestTrackingEvents,
  markJobSent,
  updateTemplate,
} from "../../test/store-queries.ts";
import type { EmailJob } from "../job/email-job.ts";
import type { DatabaseRouter } from "./database-router.ts";
import { ConflictError } from "./errors.ts";
import { jobToRow, rowToJob } from "./job-mapping.ts";
import { JobRepository, type NewEmailJob } from "./job-repository.ts";
import { InvalidCursorError } from "./keyset-cursor.ts";
import { SuppressionRepository } from "./suppression-repository.ts";
import { TemplateRepository } from "./template-repository.ts";
import { TrackingRepository } from "./tracking-repository.ts";

interface RepositoryHarness {
  router: DatabaseRouter;
  close(): Promise<void>;
}

/** The repositories' behaviour, run against every database we support (PostgreSQL and PGlite). */
export function repositoryContract(name: string, open: () => Promise<RepositoryHarness>): void {
  describe(`repositories on ${name}`, () => {
    let harness: RepositoryHarness;
    let jobs: JobRepository;
    let templates: TemplateRepository;
    let tracking: TrackingRepository;

    beforeAll(async () => {
      harness = await open();
      jobs = new JobRepository(harness.router);
      templates = new TemplateRepository(harness.router);
      tracking = new TrackingRepository(harness.router);
    });
    afterAll(async () => harness?.close());

    /** Every template id, walking all the pages. */
    const templateIds = async (filter: { active?: boolean } = {}) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await templates.list({ ...filter, limit: 500, ...(cursor && { cursor }) });
        ids.push(...page.templates.map((t) => t.id));
        cursor = page.next_cursor;
      } while (cursor);
      return ids;
    };

    const newJob = (overrides: Partial<NewEmailJob> = {}): NewEmailJob => ({
      job_type: "welcome_email",
      recipient_email: "user@example.com",
      template_id: "welcome_template",
      template_data: { user_name: "Ada", tags: ["a", "b"] },
      ...overrides,
    });

    describe("jobs", () => {
      it("gives back from a tracked job's row the job it was stored from, names of every mailbox included", async () => {
        const job: EmailJob = {
          id: randomUUID(),
          type: "receipt",
          recipient_email: "ada@example.com",
          recipient_name: "Ada Lovelace",
          template_id: "receipt",
          template_data: { order: { id: 42, items: ["tea"] } },
          subject: "Your receipt",
          html: "<p>Thanks</p>",
          text: "Thanks",
          from: { email: "shop@example.com", name: "Ferienhaus Übersee" },
          reply_to: { email: "help@example.com", name: "Hilfe & Support" },
          cc: [{ email: "cc@example.com", name: "Copy" }, { email: "cc2@example.com" }],
          bcc: [{ email: "audit@example.com" }],
          tags: ["receipts", "eu"],
          headers: { "X-Order": "42" },
          attachments: [{ filename: "r.txt", content: "aGk=", content_type: "text/plain" }],
          priority: 2,
          scheduled_at: new Date("2030-01-01T00:00:00Z"),
          tracked: true,
          idempotency_key: `receipt-${randomUUID()}`,
          provider: "smtp",
          max_retries: 5,
          metadata: { source: "checkout" },
          sandbox: true,
        };
        const readBack = async (id: string) => {
          const row = await jobs.get(id, { consistency: "strong" });
          if (!row) throw new Error(`job ${id} was not stored`);
          return rowToJob(row);
        };
        await jobs.create(jobToRow(job));
        expect(await readBack(job.id)).toEqual(job);
        // Without a name, none is made up.
        const bare: EmailJob = { ...job, id: randomUUID(), idempotency_key: `bare-${randomUUID()}` };
        bare.reply_to = { email: "help@example.com" };
        await jobs.create(jobToRow(bare));
        expect((await readBack(bare.id)).reply_to).toEqual({ email: "help@example.com" });
      });

      it("creates a job with the Go schema's column defaults and reads it back with JSON intact", async () => {
        const created = await jobs.create(
          newJob({
            headers: { "X-Campaign": "spring" },
            attachments: [{ filename: "a.txt", content: "aGk=" }],
          }),
        );
        expect(created).toMatchObject({
          status: "pending",
          priority: 0,
          retry_count: 0,
          max_retries: 3,
          template_data: { user_name: "Ada", tags: ["a", "b"] },
          headers: { "X-Campaign": "spring" },
          attachments: [{ filename: "a.txt", content: "aGk=" }],
        });
        expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(created.created_at).toBeInstanceOf(Date);
        expect(await jobs.get(created.id, { consistency: "strong" })).toEqual(created);
      });

      it("keeps a caller-chosen id and refuses a second job with it", async () => {
        const id = randomUUID();
        await jobs.create(newJob({ id }));
        await expect(jobs.create(newJob({ id }))).rejects.toBeInstanceOf(ConflictError);
      });

      it("lets exactly one of many concurrent claims win", async () => {
        const job = await jobs.create(newJob());
        const claims = await Promise.all(Array.from({ length: 8 }, () => jobs.claim(job.id, 60_000)));
        const winners = claims.filter((claim) => claim !== undefined);
        expect(winners).toHaveLength(1);
        expect(winners[0]?.status).toBe("processing");
        expect(winners[0]?.locked_until?.getTime()).toBeGreaterThan(Date.now());
      });

      it("lets a claim whose lease ran out be taken over", async () => {
        const job = await jobs.create(newJob());
        expect(await jobs.claim(job.id, 1)).toBeDefined();
        await sleep(20);
        expect(await jobs.claim(job.id, 60_000)).toMatchObject({ status: "processing" });
      });

      it("moves through sent and refuses to claim a sent job again", async () => {
        const job = await jobs.create(newJob());
        await jobs.claim(job.id, 60_000);
        const sent = await markJobSent(harness.router, job.id);
        expect(sent).toMatchObject({ status: "sent", locked_until: null });
        expect(sent?.sent_at).toBeInstanceOf(Date);
        expect(sent?.updated_at.getTime()).toBeGreaterThanOrEqual(job.updated_at.getTime());
        expect(await jobs.claim(job.id, 60_000)).toBeUndefined();
        expect(await markJobSent(harness.router, job.id)).toBeUndefined();
      });

      it("marks a claimed job sent together with its sent event, once, naming the provider that sent it", async () => {
        const job = await jobs.create(newJob());
        expect(await jobs.markSentWithEvent(job.id, "smtp", "<m@x>")).toBe(false);
        await jobs.claim(job.id, 60_000);
        expect(await jobs.markSentWithEvent(job.id, "smtp", "<m@x>")).toBe(true);
        expect(await jobs.markSentWithEvent(job.id, "smtp", "<m@x>")).toBe(false);
        // The row names the provider that sent it, though the job asked for none.
        expect(await jobs.get(job.id, { consistency: "strong" })).toMatchObject({
          status: "sent",
          locked_until: null,
          provider: "smtp",
        });
        expect((await tracking.listForJob(job.id)).map((e) => [e.status, e.provider, e.message_id])).toEqual([
          ["sent", "smtp", "<m@x>"],
        ]);
      });

      it("claims and marks many jobs at once, each caller getting its own answer", async () => {
        const created = await Promise.all(Array.from({ length: 12 }, () => jobs.create(newJob())));
        const [taken] = created;
        if (!taken) throw new Error("no job");
        await jobs.claim(taken.id, 60_000);
        const claims = await Promise.all(created.map((job) => jobs.claim(job.id, 60_000)));
        expect(claims.map((c) => c?.id)).toEqual([undefined, ...created.slice(1).map((j) => j.id)]);
        const marks = await Promise.all([
          ...created.map((job, i) => jobs.markSentWithEvent(job.id, "smtp", `<m${i}@x>`)),
          jobs.markSentWithEvent(created[1]?.id ?? "", "smtp", "<again@x>"),
        ]);
        expect(marks).toEqual([...created.map(() => true), false]);
        const events = await tracking.listForJob(created[1]?.id ?? "");
        expect(events.map((e) => e.message_id)).toEqual(["<m1@x>"]);
      });

      it("gives a claim back as it was", async () => {
        const job = await jobs.create(newJob());
        await jobs.claim(job.id, 60_000);
        await jobs.releaseClaim(job.id);
        expect(await jobs.get(job.id, { consistency: "strong" })).toMatchObject({
          status: "pending",
          locked_until: null,
        });
        expect(await jobs.claim(job.id, 60_000)).toBeDefined();
      });

      it("counts retries, records the error, then fails and can be requeued", async () => {
        const job = await jobs.create(newJob());
        await jobs.claim(job.id, 60_000);
        const next = new Date(Date.now() + 60_000);
        expect(await jobs.markRetrying(job.id, "421 try later", next)).toMatchObject({
          status: "retrying",
          retry_count: 1,
          error_message: "421 try later",
          next_attempt_at: next,
        });
        await jobs.claim(job.id, 60_000);
        expect(await jobs.markRetrying(job.id, "throttled", next, false)).toMatchObject({ retry_count: 1 });
        await jobs.claim(job.id, 60_000);
        expect(await jobs.markFailed(job.id, "550 no such user")).toMatchObject({
          status: "failed",
          error_message: "550 no such user",
        });
        expect(await jobs.requeue(job.id)).toMatchObject({
          status: "pending",
          retry_count: 0,
          error_message: null,
        });
      });

      it("cancels a pending job (again without error), but not one already sent, and says which", async () => {
        const pending = await jobs.create(newJob({ scheduled_at: new Date(Date.now() + 3_600_000) }));
        expect(await jobs.cancel(pending.id)).toMatchObject({
          outcome: "cancelled",
          job: { status: "cancelled" },
        });
        expect(await jobs.claim(pending.id, 60_000)).toBeUndefined();
        // A second cancel (a client retrying) is answered as the first.
        expect(await jobs.cancel(pending.id)).toMatchObject({
          outcome: "cancelled",
          job: { status: "cancelled" },
        });

        const sent = await jobs.create(newJob());
        await jobs.claim(sent.id, 60_000);
        await markJobSent(harness.router, sent.id);
        expect(await jobs.cancel(sent.id)).toMatchObject({
          outcome: "not_cancellable",
          job: { status: "sent" },
        });
        expect(await jobs.cancel(randomUUID())).toEqual({ outcome: "not_found" });
      });

      it("lists with filters and walks every page exactly once, newest first", async () => {
        const type = `list_${randomUUID().slice(0, 8)}`;
        const created = [];
        // Several rows share a millisecond: the cursor must not skip or repeat them.
        for (let i = 0; i < 23; i++) created.push(await jobs.create(newJob({ job_type: type })));
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await jobs.list({ job_type: type, limit: 5, ...(cursor && { cursor }) });
          expect(page.jobs.length).toBeLessThanOrEqual(5);
          seen.push(...page.jobs.map((j) => j.id));
          cursor = page.next_cursor;
        } while (cursor);
        expect(seen).toHaveLength(23);
        expect(new Set(seen).size).toBe(23);
        expect(new Set(seen)).toEqual(new Set(created.map((j) => j.id)));
        const times = new Map(created.map((j) => [j.id, j.created_at.getTime()]));
        const walked = seen.map((id) => times.get(id) ?? 0);
        expect(walked).toEqual([...walked].sort((a, b) => b - a));
      });

      it("filters by status, recipient (in any case) and time range", async () => {
        const type = `filter_${randomUUID().slice(0, 8)}`;
        const a = await jobs.create(newJob({ job_type: type, recipient_email: "Ada@Example.com" }));
        const b = await jobs.create(newJob({ job_type: type, recipient_email: "b@example.com" }));
        await jobs.claim(b.id, 60_000);
        await markJobSent(harness.router, b.id);
        const byStatus = await jobs.list({ job_type: type, status: ["sent"] });
        expect(byStatus.jobs.map((j) => j.id)).toEqual([b.id]);
        // Addresses match whatever their case.
        const byRecipient = await jobs.list({ job_type: type, recipient_email: "ada@EXAMPLE.com" });
        expect(byRecipient.jobs.map((j) => j.id)).toEqual([a.id]);
        const none = await jobs.list({ job_type: type, created_after: new Date(Date.now() + 60_000) });
        expect(none).toEqual({ jobs: [], next_cursor: undefined });
        const both = await jobs.list({ job_type: type, created_before: new Date(Date.now() + 60_000) });
        expect(both.jobs).toHaveLength(2);
      });

      it("rejects a cursor it did not issue", async () => {
        await expect(jobs.list({ cursor: "not-a-cursor" })).rejects.toBeInstanceOf(InvalidCursorError);
      });

      it("counts jobs by status and deletes", async () => {
        const job = await jobs.create(newJob());
        const counts = await jobs.countByStatus();
        expect(counts.pending).toBeGreaterThanOrEqual(1);
        expect(await deleteJob(harness.router, job.id)).toBe(true);
        expect(await deleteJob(harness.router, job.id)).toBe(false);
        expect(await jobs.get(job.id, { consistency: "strong" })).toBeUndefined();
      });
    });

    describe("templates", () => {
      const id = () => `tpl_${randomUUID().slice(0, 8)}`;

      it("creates, reads, lists and refuses a duplicate id", async () => {
        const tid = id();
        const created = await createTemplate(harness.router, {
          id: tid,
          name: "Welcome",
          subject: "Hi {{user_name}}",
          html_template: "<p>Hello {{user_name}}</p>",
          variables: ["user_name"],
        });
        expect(created).toMatchObject({
          id: tid,
          is_active: true,
          variables: ["user_name"],
          text_template: null,
        });
        expect(await templates.get(tid, { consistency: "strong" })).toEqual(created);
        expect(await templateIds()).toContain(tid);
        await expect(createTemplate(harness.router, { id: tid, name: "again" })).rejects.toBeInstanceOf(
          ConflictError,
        );
      });

      it("updates the given fields, moves updated_at, and toggles the active flag", async () => {
        const tid = id();
        const created = await createTemplate(harness.router, {
          id: tid,
          name: "Receipt",
          subject: "Receipt",
        });
        await sleep(5);
        const updated = await updateTemplate(harness.router, tid, { subject: "Your receipt" });
        expect(updated).toMatchObject({ name: "Receipt", subject: "Your receipt" });
        expect(updated?.updated_at.getTime()).toBeGreaterThan(created.updated_at.getTime());
        await updateTemplate(harness.router, tid, { is_active: false });
        expect(await templateIds({ active: false })).toContain(tid);
        expect(await templateIds({ active: true })).not.toContain(tid);
        expect(await updateTemplate(harness.router, "missing_template", { subject: "x" })).toBeUndefined();
      });

      it("pages through the templates by id, each once, while others are added, with the total", async () => {
        const prefix = `page_${randomUUID().slice(0, 8)}`;
        for (let n = 0; n < 7; n++) await templates.upsert({ id: `${prefix}_${n}`, name: `T${n}` });
        await templates.upsert({ id: `${prefix}_inactive`, name: "off", is_active: false });
        const total = (await templates.list({ limit: 1 })).total_count;
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await templates.list({ limit: 3, ...(cursor && { cursor }) });
          expect(page.templates.length).toBeLessThanOrEqual(3);
          if (pages === 0) expect(page.total_count).toBe(total);
          seen.push(...page.templates.map((t) => t.id));
          // Added behind the pages already read: not seen, and nothing is seen twice for it.
          if (pages === 0) await templates.upsert({ id: "0000_added_while_paging", name: "early" });
          cursor = page.next_cursor;
          pages++;
        } while (cursor);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toEqual([...seen].sort());
        expect(seen.filter((id) => id.startsWith(prefix))).toHaveLength(8);
        expect(seen.length).toBe(total);
        const active = await templates.list({ active: true, limit: 500 });
        expect(active.total_count).toBe(active.templates.length);
        expect(active.templates.map((t) => t.id)).not.toContain(`${prefix}_inactive`);
        await templates.delete("0000_added_while_paging");
      });

      it("refuses a cursor it did not give, naming page_token", async () => {
        const refusal = templates.list({ cursor: "not a token!" });
        await expect(refusal).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(refusal).rejects.toMatchObject({ field: "page_token" });
      });

      it("upserts and deletes", async () => {
        const tid = id();
        await templates.upsert({ id: tid, name: "One", subject: "1" });
        const second = await templates.upsert({ id: tid, name: "Two", subject: "2" });
        expect(second).toMatchObject({ name: "Two", subject: "2" });
        expect(await templates.delete(tid)).toBe(true);
        expect(await templates.get(tid, { consistency: "strong" })).toBeUndefined();
      });
    });

    describe("suppressions", () => {
      it("adds an address once, finds it whatever its case, pages through and removes it", async () => {
        const suppressions = new SuppressionRepository(harness.router);
        const tag = randomUUID().slice(0, 8);
        const first = await suppressions.add({
          email: `Bounced-${tag}@Example.org`,
          reason: "hard_bounce",
          source: "ses",
        });
        expect(first).toMatchObject({
          email: `bounced-${tag}@example.org`,
          reason: "hard_bounce",
          source: "ses",
        });
        const again = await suppressions.add({
          email: `bounced-${tag}@example.org`,
          reason: "manual",
          source: "api",
        });
        expect(again.reason).toBe("hard_bounce");
        expect(await suppressions.find(`BOUNCED-${tag}@example.ORG`)).toMatchObject({
          reason: "hard_bounce",
        });
        for (let i = 0; i < 4; i++)
          await suppressions.add({
            email: `p${i}-${tag}@example.org`,
            reason: "complaint",
            source: "sendgrid",
          });
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await suppressions.list({ limit: 2, contains: tag, ...(cursor && { cursor }) });
          seen.push(...page.suppressions.map((s) => s.email));
          cursor = page.next_cursor;
        } while (cursor);
        expect(new Set(seen).size).toBe(5);
        expect(await suppressions.remove(`bounced-${tag}@example.org`)).toBe(true);
        expect(await suppressions.remove(`bounced-${tag}@example.org`)).toBe(false);
        expect(await suppressions.find(`bounced-${tag}@example.org`)).toBeUndefined();
      });

      it("counts the list, reads it whole in address order a page at a time, and what was added since", async () => {
        const suppressions = new SuppressionRepository(harness.router);
        const { now: before } = await suppressions.count();
        const tag = randomUUID().slice(0, 8);
        for (const local of ["c", "a", "b"])
          await suppressions.add({ email: `${local}-${tag}@example.org`, reason: "manual", source: "api" });
        const { count, now } = await suppressions.count();
        const pages: string[][] = [];
        for await (const page of suppressions.addresses(2)) pages.push(page);
        const all = pages.flat();
        expect(all).toHaveLength(count);
        expect(pages.every((page) => page.length <= 2)).toBe(true);
        expect(all).toEqual([...all].sort());
        expect(all.filter((email) => email.endsWith(`-${tag}@example.org`))).toEqual(
          ["a", "b", "c"].map((local) => `${local}-${tag}@example.org`),
        );
        const since = await suppressions.addedSince(new Date(before.getTime() - 1), 100);
        expect(since.emails).toEqual(
          expect.arrayContaining([`a-${tag}@example.org`, `c-${tag}@example.org`]),
        );
        expect(since.now.getTime()).toBeGreaterThanOrEqual(now.getTime());
        expect((await suppressions.addedSince(since.now, 100)).emails).toEqual([]);
      });
    });

    describe("tracking", () => {
      it("appends events and reports the latest per job", async () => {
        const one = await jobs.create(newJob());
        const two = await jobs.create(newJob());
        const sentAt = new Date();
        await tracking.append({
          job_id: one.id,
          provider: "smtp",
          message_id: "<m1@x>",
          status: "sent",
          sent_at: sentAt,
        });
        await sleep(5);
        await tracking.append({
          job_id: one.id,
          provider: "smtp",
          status: "delivered",
          delivered_at: new Date(),
        });
        await tracking.append({ job_id: two.id, provider: "ses", status: "sent" });

        const events = await tracking.listForJob(one.id);
        expect(events.map((e) => e.status)).toEqual(["sent", "delivered"]);
        expect(events[0]).toMatchObject({ message_id: "<m1@x>", sent_at: sentAt });
        expect((await latestTrackingEvent(harness.router, one.id))?.status).toBe("delivered");
        const latest = await latestTrackingEvents(harness.router, [one.id, two.id, randomUUID()]);
        expect([...latest.keys()].sort()).toEqual([one.id, two.id].sort());
        expect(latest.get(two.id)?.provider).toBe("ses");
      });
    });
  });
}
