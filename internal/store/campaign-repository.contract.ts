import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmailJob } from "../job/email-job.ts";
import { derivedJobId } from "../job/job-id.ts";
import { type CampaignOutcome, CampaignOutcomeRepository } from "./campaign-outcome-repository.ts";
import { CampaignRepository, CampaignStateError, type NewCampaign } from "./campaign-repository.ts";
import { CampaignScheduleRepository } from "./campaign-schedule-repository.ts";
import type { DatabaseRouter } from "./database-router.ts";
import { JobRepository } from "./job-repository.ts";
import { SuppressionRepository } from "./suppression-repository.ts";
import { TrackingRepository } from "./tracking-repository.ts";

interface Opened {
  router: DatabaseRouter;
  close(): Promise<void>;
}

const campaignFields = (overrides: Partial<NewCampaign> = {}): NewCampaign => ({
  name: "Spring sale",
  job_type: "newsletter",
  template_id: "welcome",
  subject: null,
  template_data: { shop: "Corner shop", greeting: "Hello" },
  from_email: "news@example.org",
  from_name: "News",
  reply_to: null,
  reply_to_name: null,
  headers: null,
  provider: null,
  priority: -1,
  max_retries: 3,
  tags: ["spring"],
  tracked: true,
  rate_limit: null,
  scheduled_at: null,
  ...overrides,
});

const people = (count: number, prefix = "p") =>
  Array.from({ length: count }, (_, i) => ({
    email: `${prefix}${i}-${randomUUID().slice(0, 6)}@example.org`,
    template_data: { n: i },
  }));

/** Campaigns, their audiences, dispatch and counters (011), the same on PostgreSQL and PGlite. */
export function campaignRepositoryContract(name: string, open: () => Promise<Opened>): void {
  describe(`campaigns (${name})`, () => {
    let opened: Opened;
    let campaigns: CampaignRepository;
    let jobs: JobRepository;
    let tracking: TrackingRepository;
    beforeAll(async () => {
      opened = await open();
      campaigns = new CampaignRepository(opened.router);
      jobs = new JobRepository(opened.router);
      tracking = new TrackingRepository(opened.router);
    });
    afterAll(() => opened?.close());

    async function running(overrides: Partial<NewCampaign> = {}) {
      const campaign = await campaigns.create(campaignFields(overrides));
      return { campaign, start: () => campaigns.transition(campaign.id, ["draft"], "running") };
    }

    it("merges an address given twice (in any case, in one page or across pages) and counts suppressed and invalid rows", async () => {
      const { campaign } = await running();
      const suppressed = `gone-${randomUUID().slice(0, 6)}@example.org`;
      await new SuppressionRepository(opened.router).add({
        email: suppressed,
        reason: "hard_bounce",
        source: "test",
      });
      const first = await campaigns.addRecipients(
        campaign.id,
        [
          { email: "Ada@Example.org", name: "Ada", template_data: {} },
          { email: "ada@example.org", template_data: {} },
          { email: suppressed.toUpperCase(), template_data: {} },
        ],
        2,
      );
      expect(first).toEqual({ job_type: "newsletter", added: 2, duplicates: 1, suppressed: 1 });
      const second = await campaigns.addRecipients(
        campaign.id,
        [
          { email: "ADA@example.org", template_data: {} },
          { email: "bob@example.org", template_data: { city: "Oslo" } },
        ],
        0,
      );
      expect(second).toEqual({ job_type: "newsletter", added: 1, duplicates: 1, suppressed: 0 });
      expect(await campaigns.get(campaign.id)).toMatchObject({
        total: 3,
        duplicates: 2,
        excluded: 1,
        invalid: 2,
      });
      expect(await campaigns.addRecipients(randomUUID(), [], 0)).toBeUndefined();
    });

    it("dispatches recipients in upload order as tracked jobs carrying the campaign's fields and their own data, skipping suppressed ones", async () => {
      const { campaign, start } = await running();
      const suppressed = `gone-${randomUUID().slice(0, 6)}@example.org`;
      await new SuppressionRepository(opened.router).add({
        email: suppressed,
        reason: "complaint",
        source: "test",
      });
      const audience = people(5);
      await campaigns.addRecipients(
        campaign.id,
        [
          { email: audience[0]?.email as string, name: "First", template_data: { greeting: "Hi", n: 0 } },
          { email: suppressed, template_data: {} },
          ...audience.slice(1),
        ],
        0,
      );
      expect(await campaigns.dispatchSlice(campaign.id, 10)).toBeUndefined();
      await start();
      const slice = await campaigns.dispatchSlice(campaign.id, 3);
      // Three rows read, one of them suppressed: two jobs.
      expect(slice).toMatchObject({ read: 3, completed: false });
      expect(slice?.jobs).toHaveLength(2);
      const first = await jobs.get(slice?.jobs[0]?.id as string);
      expect(first).toMatchObject({
        recipient_email: audience[0]?.email,
        recipient_name: "First",
        job_type: "newsletter",
        template_id: "welcome",
        template_data: { shop: "Corner shop", greeting: "Hi", n: 0 },
        from_email: "news@example.org",
        priority: -1,
        tags: ["spring"],
        campaign_id: campaign.id,
        status: "pending",
        enqueued_at: null,
      });
      const rest = await campaigns.dispatchSlice(campaign.id, 10);
      expect(rest?.jobs).toHaveLength(3);
      const emails = await Promise.all(
        [...(slice?.jobs ?? []), ...(rest?.jobs ?? [])].map(
          async (j) => (await jobs.get(j.id))?.recipient_email,
        ),
      );
      expect(emails).toEqual(audience.map((r) => r.email));
      expect(await campaigns.get(campaign.id)).toMatchObject({ dispatched: 5, excluded: 1, total: 6 });
      expect((await campaigns.dispatchSlice(campaign.id, 10))?.jobs).toEqual([]);
    });

    it("never dispatches a recipient twice when replicas dispatch at once", async () => {
      const { campaign, start } = await running();
      const audience = people(12);
      await campaigns.addRecipients(campaign.id, audience, 0);
      await start();
      const slices: { id: string }[][] = [];
      while (slices.flat().length < 12) {
        const round = await Promise.all([1, 2, 3].map(() => campaigns.dispatchSlice(campaign.id, 2)));
        slices.push(...round.map((slice) => slice?.jobs ?? []));
      }
      const emails = await Promise.all(
        slices.flat().map(async (j) => (await jobs.get(j.id))?.recipient_email),
      );
      expect(emails.sort()).toEqual(audience.map((r) => r.email).sort());
      expect(await campaigns.get(campaign.id)).toMatchObject({ dispatched: 12 });
    });

    it("counts each job's ending once, moves the count back when a failed job is retried, and completes when the last job ends", async () => {
      const { campaign, start } = await running();
      await campaigns.addRecipients(campaign.id, people(4), 0);
      await start();
      const ids = (await campaigns.dispatchSlice(campaign.id, 10))?.jobs.map((j) => j.id) ?? [];
      expect(ids).toHaveLength(4);
      const [a, b, c, d] = ids as [string, string, string, string];
      for (const id of ids) expect(await jobs.claim(id, 30_000)).toBeDefined();
      expect(await jobs.markSentWithEvent(a, "smtp", "m-a")).toBe(true);
      await jobs.markFailed(b, "550 no such user");
      await jobs.markSuppressed(c, "suppressed");
      await jobs.markRetrying(d, "421 try later", new Date());
      expect(await campaigns.get(campaign.id)).toMatchObject({
        sent: 1,
        failed: 1,
        suppressed: 1,
        dispatched: 4,
      });
      expect(await campaigns.dispatchSlice(campaign.id, 10)).toMatchObject({ completed: false });
      await jobs.requeue(b);
      expect(await campaigns.get(campaign.id)).toMatchObject({ failed: 0 });
      for (const id of [b, d]) {
        await jobs.claim(id, 30_000);
        await jobs.markSentWithEvent(id, "smtp", `m-${id}`);
      }
      expect(await campaigns.get(campaign.id)).toMatchObject({ sent: 3, failed: 0, suppressed: 1 });
      expect(await campaigns.dispatchSlice(campaign.id, 0)).toMatchObject({ completed: true });
      const done = await campaigns.get(campaign.id);
      expect(done?.status).toBe("completed");
      expect(done?.finished_at).toBeInstanceOf(Date);
      expect(await campaigns.dispatchSlice(campaign.id, 10)).toBeUndefined();
    });

    it("counts provider events once per job and kind", async () => {
      const { campaign, start } = await running();
      await campaigns.addRecipients(campaign.id, people(2), 0);
      await start();
      const [a, b] = (await campaigns.dispatchSlice(campaign.id, 10))?.jobs.map((j) => j.id) ?? [];
      for (const [id, status] of [
        [a, "opened"],
        [a, "opened"],
        [a, "clicked"],
        [b, "bounced_hard"],
        [b, "bounced_soft"],
        [b, "complained"],
        [a, "delivered"],
        [a, "unsubscribed"],
      ] as const)
        await tracking.append({ job_id: id as string, status });
      expect(await campaigns.get(campaign.id)).toMatchObject({
        opened: 1,
        clicked: 1,
        bounced: 1,
        complained: 1,
        delivered: 1,
        unsubscribed: 1,
      });
    });

    it("keeps a paused campaign's jobs from being claimed, parks them unpublished, and hands them back when it runs again", async () => {
      const { campaign, start } = await running();
      await campaigns.addRecipients(campaign.id, people(3), 0);
      await start();
      const ids = (await campaigns.dispatchSlice(campaign.id, 10))?.jobs.map((j) => j.id) ?? [];
      await jobs.markEnqueued(ids);
      // Running (resumed before the park was written): not parked, the job is to be sent.
      expect(await jobs.park(ids[1] as string)).toBe(false);
      await campaigns.transition(campaign.id, ["running"], "paused");
      expect(await jobs.claim(ids[0] as string, 30_000)).toBeUndefined();
      expect(await campaigns.dispatchSlice(campaign.id, 10)).toBeUndefined();
      expect(await jobs.park(ids[0] as string)).toBe(true);
      // The reconciler leaves a paused campaign's parked job alone, however old.
      await sql`update email_jobs set created_at = now() - interval '1 hour' where id = ${ids[0]}`.execute(
        opened.router.master,
      );
      expect((await jobs.takeLostJobs(1_000, 1_000)).map((j) => j.id)).not.toContain(ids[0]);
      await campaigns.transition(campaign.id, ["paused"], "running");
      expect((await campaigns.takeParkedJobs(campaign.id)).map((j) => j.id)).toEqual([ids[0]]);
      expect(await jobs.claim(ids[0] as string, 30_000)).toMatchObject({ status: "processing" });
    });

    it("cancels the jobs still waiting, counts them, and takes no more recipients once cancelled", async () => {
      const { campaign, start } = await running();
      await campaigns.addRecipients(campaign.id, people(5), 0);
      await start();
      const ids = (await campaigns.dispatchSlice(campaign.id, 3))?.jobs.map((j) => j.id) ?? [];
      await jobs.claim(ids[0] as string, 30_000);
      await campaigns.transition(campaign.id, ["running"], "cancelled");
      expect(await campaigns.cancelJobs(campaign.id)).toBe(2);
      // The claimed one is in a worker's hands: it ends as it ends.
      await jobs.markSentWithEvent(ids[0] as string, "smtp", "m");
      expect(await campaigns.get(campaign.id)).toMatchObject({
        status: "cancelled",
        sent: 1,
        cancelled: 2,
        dispatched: 3,
        total: 5,
      });
      await expect(campaigns.addRecipients(campaign.id, people(1), 0)).rejects.toBeInstanceOf(
        CampaignStateError,
      );
    });

    it("dispatches no faster than its rate limit allows", async () => {
      const { campaign, start } = await running({ rate_limit: 2 });
      await campaigns.addRecipients(campaign.id, people(20), 0);
      await start();
      // The first pass has no credit yet; after a second it may take about two.
      expect((await campaigns.dispatchSlice(campaign.id, 100))?.jobs).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const slice = await campaigns.dispatchSlice(campaign.id, 100);
      expect(slice?.jobs.length).toBeGreaterThanOrEqual(1);
      expect(slice?.jobs.length).toBeLessThanOrEqual(2);
    });

    it("starts scheduled campaigns when their time has come, saying how late", async () => {
      const due = await campaigns.create(
        campaignFields({ scheduled_at: new Date(Date.now() - 2_000) }),
        "scheduled",
      );
      const later = await campaigns.create(
        campaignFields({ scheduled_at: new Date(Date.now() + 60_000) }),
        "scheduled",
      );
      const started = await campaigns.startDue();
      const mine = started.find((s) => s.id === due.id);
      expect(mine?.late_ms).toBeGreaterThanOrEqual(1_900);
      expect(started.map((s) => s.id)).not.toContain(later.id);
      expect((await campaigns.get(due.id))?.status).toBe("running");
      expect((await campaigns.get(later.id))?.status).toBe("scheduled");
    });

    it("sums the counters per job type and status", async () => {
      const type = `sum_${randomUUID().slice(0, 8)}`;
      for (const size of [2, 3]) {
        const { campaign, start } = await running({ job_type: type });
        await campaigns.addRecipients(campaign.id, people(size), 1);
        await start();
        await campaigns.dispatchSlice(campaign.id, 1);
      }
      await campaigns.create(campaignFields({ job_type: type }));
      const mine = (await campaigns.summary()).filter((row) => row.job_type === type);
      expect(mine).toHaveLength(2);
      expect(mine.find((row) => row.status === "running")).toMatchObject({
        campaigns: 2,
        total: 5,
        dispatched: 2,
        sent: 0,
      });
      expect(mine.find((row) => row.status === "draft")).toMatchObject({ campaigns: 1, total: 0 });
    });

    it("starts each due occurrence of a schedule once, as a running copy of its draft with the audience as it is now", async () => {
      const schedules = new CampaignScheduleRepository(opened.router);
      const blueprint = await campaigns.create(
        campaignFields({
          job_type: `sched_${randomUUID().slice(0, 6)}`,
          reply_to: "help@example.org",
          reply_to_name: "Help desk",
        }),
      );
      const audience = people(4);
      await campaigns.addRecipients(blueprint.id, audience, 0);
      await new SuppressionRepository(opened.router).add({
        email: audience[1]?.email as string,
        reason: "unsubscribe",
        source: "test",
      });
      const due = new Date(Date.now() - 90_000);
      const schedule = await schedules.create({
        name: "Weekly",
        blueprint_id: blueprint.id,
        cron: "0 9 * * MON",
        timezone: "UTC",
        next_run_at: due,
      });
      const next = new Date(Date.now() + 86_400_000);
      // Replicas polling at once: one of them starts the run.
      const runs = (await Promise.all([1, 2, 3].map(() => schedules.startDueRun(() => next)))).filter(
        (run) => run !== undefined && run.schedule_id === schedule.id,
      );
      expect(runs).toHaveLength(1);
      const run = runs[0];
      expect(run?.late_ms).toBeGreaterThanOrEqual(89_000);
      const copy = await campaigns.get(run?.campaign_id as string);
      expect(copy).toMatchObject({
        status: "running",
        job_type: blueprint.job_type,
        template_id: "welcome",
        template_data: blueprint.template_data,
        from_name: "News",
        reply_to: "help@example.org",
        reply_to_name: "Help desk",
        total: 4,
        excluded: 1,
        schedule_id: schedule.id,
      });
      expect(copy?.scheduled_at?.getTime()).toBe(due.getTime());
      expect((await campaigns.get(blueprint.id))?.status).toBe("draft");
      expect(await schedules.get(schedule.id)).toMatchObject({
        next_run_at: next,
        runs: 1,
        last_campaign_id: run?.campaign_id,
      });
      const jobs = (await campaigns.dispatchSlice(run?.campaign_id as string, 10))?.jobs ?? [];
      expect(jobs).toHaveLength(3);
      expect((await schedules.startDueRun(() => next))?.schedule_id).not.toBe(schedule.id);
      // The draft goes, and its schedule with it.
      await opened.router.master.deleteFrom("email_campaigns").where("id", "=", blueprint.id).execute();
      expect(await schedules.get(schedule.id)).toBeUndefined();
    });

    describe("untracked", () => {
      let outcomes: CampaignOutcomeRepository;
      beforeAll(() => {
        outcomes = new CampaignOutcomeRepository(opened.router);
      });

      /** A publisher that keeps what it was given (or fails, while `failing`). */
      function publisher() {
        const published: EmailJob[] = [];
        const state = { failing: false };
        return {
          published,
          state,
          publish: async (batch: EmailJob[]) => {
            if (state.failing) throw new Error("queue down");
            published.push(...batch);
          },
        };
      }

      it("puts whole jobs on the queue before the slice commits: a failed publish dispatches nothing, and no row is written", async () => {
        const { campaign, start } = await running({ tracked: false, subject: "Hi {{.name}}" });
        const audience = people(3);
        await campaigns.addRecipients(
          campaign.id,
          [
            { email: audience[0]?.email as string, name: "First", template_data: { greeting: "Hi" } },
            ...audience.slice(1),
          ],
          0,
        );
        await start();
        const queue = publisher();
        queue.state.failing = true;
        await expect(campaigns.dispatchSlice(campaign.id, 10, queue.publish)).rejects.toThrow("queue down");
        expect(await campaigns.get(campaign.id)).toMatchObject({ dispatched: 0, next_seq: 0 });
        queue.state.failing = false;
        const slice = await campaigns.dispatchSlice(campaign.id, 2, queue.publish);
        expect(slice).toMatchObject({ jobs: [], published: 2, read: 2, completed: false });
        const [first] = queue.published;
        expect(first).toMatchObject({
          type: "newsletter",
          recipient_email: audience[0]?.email,
          recipient_name: "First",
          template_id: "welcome",
          subject: "Hi {{.name}}",
          template_data: { shop: "Corner shop", greeting: "Hi" },
          from: { email: "news@example.org", name: "News" },
          priority: -1,
          tags: ["spring"],
          tracked: false,
          campaign_id: campaign.id,
        });
        // The job's id follows from the recipient: dispatched again, it is the same job.
        expect(first?.id).toBe(derivedJobId(`campaign/${campaign.id}/${first?.campaign_recipient}`));
        expect(await jobs.list({ campaign_id: campaign.id })).toMatchObject({ jobs: [] });
        await campaigns.dispatchSlice(campaign.id, 10, queue.publish);
        expect(queue.published.map((j) => j.recipient_email)).toEqual(audience.map((r) => r.email));
        expect(await campaigns.get(campaign.id)).toMatchObject({ dispatched: 3 });
      });

      it("counts each recipient's outcome once, and completes when every recipient has one", async () => {
        const { campaign, start } = await running({ tracked: false });
        await campaigns.addRecipients(campaign.id, people(4), 0);
        await start();
        const queue = publisher();
        await campaigns.dispatchSlice(campaign.id, 10, queue.publish);
        const [a, b, c, d] = queue.published.map((j) => j.campaign_recipient as number);
        const record = (recipient: number | undefined, outcome: CampaignOutcome) =>
          outcomes.record({ campaign_id: campaign.id, recipient: recipient as number, outcome });
        // Recorded together, as concurrent workers' outcomes are: one statement.
        expect(
          await Promise.all([
            record(a, "sent"),
            record(b, "failed"),
            record(c, "suppressed"),
            record(a, "sent"),
          ]),
        ).toEqual([true, true, true, true]);
        expect(await record(a, "failed")).toBe(true);
        expect(await campaigns.get(campaign.id)).toMatchObject({
          sent: 1,
          failed: 1,
          suppressed: 1,
          dispatched: 4,
        });
        expect(await campaigns.dispatchSlice(campaign.id, 10, queue.publish)).toMatchObject({
          completed: false,
        });
        await record(d, "sent");
        expect(await campaigns.dispatchSlice(campaign.id, 10, queue.publish)).toMatchObject({
          completed: true,
        });
        expect(await campaigns.get(campaign.id)).toMatchObject({ status: "completed", sent: 2 });
        expect(await outcomes.status(campaign.id)).toBe("completed");
        expect(await outcomes.status(randomUUID())).toBeUndefined();
      });

      it("parks a recipient only while its campaign is not running, sends parked ones again first once it runs, and cancels the parked ones", async () => {
        const { campaign, start } = await running({ tracked: false });
        await campaigns.addRecipients(campaign.id, people(5), 0);
        await start();
        const queue = publisher();
        await campaigns.dispatchSlice(campaign.id, 3, queue.publish);
        const [a, b, c] = queue.published.map((j) => j.campaign_recipient as number);
        const park = (recipient: number | undefined) =>
          outcomes.record({ campaign_id: campaign.id, recipient: recipient as number, outcome: "parked" });
        // Resumed (or never paused) by the time the park is written: refused, the job is sent instead.
        expect(await park(a)).toBe(false);
        await campaigns.transition(campaign.id, ["running"], "paused");
        expect(await Promise.all([park(a), park(b)])).toEqual([true, true]);
        expect(await campaigns.dispatchSlice(campaign.id, 10, queue.publish)).toBeUndefined();
        await campaigns.transition(campaign.id, ["paused"], "running");
        const again = await campaigns.dispatchSlice(campaign.id, 3, queue.publish);
        // Two parked ones first, then one new: three published, one more dispatched.
        expect(again).toMatchObject({ published: 3, read: 1 });
        expect(queue.published.slice(3).map((j) => j.campaign_recipient)).toEqual([a, b, (c as number) + 1]);
        expect(await campaigns.get(campaign.id)).toMatchObject({ dispatched: 4 });
        await campaigns.transition(campaign.id, ["running"], "paused");
        expect(await park(c)).toBe(true);
        await campaigns.transition(campaign.id, ["paused"], "cancelled");
        expect(await campaigns.cancelJobs(campaign.id)).toBe(1);
        expect(await campaigns.get(campaign.id)).toMatchObject({ cancelled: 1 });
        // A cancelled recipient stays cancelled.
        await outcomes.record({ campaign_id: campaign.id, recipient: c as number, outcome: "sent" });
        expect(await campaigns.get(campaign.id)).toMatchObject({ cancelled: 1, sent: 0 });
      });
    });

    it("lists newest first with filters and a cursor", async () => {
      const type = `list_${randomUUID().slice(0, 8)}`;
      const made = [];
      for (let i = 0; i < 3; i++) {
        made.push(await campaigns.create(campaignFields({ job_type: type, tags: [`t${i}`] })));
        // PGlite's clock ticks in milliseconds: two campaigns made within one share created_at, and
        // their order is then the ids' (defined, but not the order they were made in).
        await sleep(3);
      }
      await campaigns.transition(made[1]?.id as string, ["draft"], "running");
      const first = await campaigns.list({ job_type: type, limit: 2 });
      expect(first.campaigns.map((c) => c.id)).toEqual([made[2]?.id, made[1]?.id]);
      const second = await campaigns.list({ job_type: type, limit: 2, cursor: first.next_cursor as string });
      expect(second.campaigns.map((c) => c.id)).toEqual([made[0]?.id]);
      expect(second.next_cursor).toBeUndefined();
      expect(
        (await campaigns.list({ job_type: type, status: ["running"] })).campaigns.map((c) => c.id),
      ).toEqual([made[1]?.id]);
      expect((await campaigns.list({ job_type: type, tag: "t0" })).campaigns.map((c) => c.id)).toEqual([
        made[0]?.id,
      ]);
    });
  });
}
