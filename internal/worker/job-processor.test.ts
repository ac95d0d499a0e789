import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  embeddedEmailService,
  embeddedJobProcessor,
  memoryQueueOptions,
  openStoreWithWelcomeTemplate,
  welcomeJob,
} from "../../test/embedded-service.ts";
import type { EmbeddedStore } from "../../test/embedded-store.ts";
import { RecordingProvider } from "../../test/recording-provider.ts";
import type { CampaignStatus } from "../campaign/campaign-status.ts";
import { UnavailableError } from "../errors/error-kind.ts";
import { parseJob } from "../job/parse-job.ts";
import { encodeJob, encodeTrackedReference } from "../job/queue-message.ts";
import { DeliveryError } from "../provider/delivery-error.ts";
import { MemoryQueue } from "../queue/memory/memory-queue.ts";
import type { Delivery, RetryRequest } from "../queue/queue.ts";
import type { EmailService } from "../service/email-service.ts";
import { CampaignRepository } from "../store/campaign-repository.ts";
import { RenderPool } from "../template/render-pool.ts";
import type { JobProcessor } from "./job-processor.ts";

/** The queue operations each delivery ended with: the processor must make exactly one. */
class CountingQueue extends MemoryQueue {
  readonly operations = new Map<string, string[]>();

  #count(delivery: Delivery, operation: string) {
    this.operations.set(delivery.id, [...(this.operations.get(delivery.id) ?? []), operation]);
  }

  override async ack(delivery: Delivery) {
    this.#count(delivery, "ack");
    return super.ack(delivery);
  }

  override async retry(delivery: Delivery, next: RetryRequest) {
    this.#count(delivery, "retry");
    return super.retry(delivery, next);
  }

  override async deadLetter(delivery: Delivery, reason: string) {
    this.#count(delivery, "deadLetter");
    return super.deadLetter(delivery, reason);
  }
}

const LEASE_MS = 60_000;

describe("JobProcessor (in-memory queue, embedded PostgreSQL)", () => {
  let store: EmbeddedStore;
  let queue: CountingQueue;
  let provider: RecordingProvider;
  let processor: JobProcessor;
  let service: EmailService;

  beforeAll(async () => {
    store = await openStoreWithWelcomeTemplate();
  });
  const renderPool = new RenderPool({ threads: 1, timeoutMs: 5_000 });
  afterAll(() => Promise.all([store?.close(), renderPool.stop()]));

  function processorWith(overrides: Partial<ConstructorParameters<typeof JobProcessor>[0]>): JobProcessor {
    return embeddedJobProcessor(
      { store, queue, provider, renderPool },
      { queueName: "unit", defaultMaxRetries: 2, claimLeaseMs: LEASE_MS, ...overrides },
    );
  }

  beforeEach(() => {
    queue = new CountingQueue(memoryQueueOptions({ visibilityTimeoutMs: LEASE_MS, fairShare: 0.1 }));
    provider = new RecordingProvider();
    service = embeddedEmailService(store, queue, { defaultMaxRetries: 2 });
    processor = processorWith({});
  });

  const address = () => `user-${randomUUID()}@example.org`;

  /** Takes the next delivery off the queue and processes it; `release` as the worker pool's. */
  async function processNext(release?: () => void) {
    await queue.promoteDue();
    const [delivery] = await queue.fetch(1);
    if (!delivery) throw new Error("nothing on the queue");
    const outcome = await processor.process(delivery, undefined, release);
    return { delivery, outcome, operations: queue.operations.get(delivery.id) };
  }

  it("sends a fast job rendered from its template and acknowledges it", async () => {
    const to = address();
    await service.send(welcomeJob(to));
    const { outcome, operations } = await processNext();
    expect(outcome).toMatchObject({ status: "sent", provider: "recording", tracked: false });
    expect(operations).toEqual(["ack"]);
    expect(provider.sentTo(to)[0]).toMatchObject({ subject: "Welcome Ada", html: "<p>Hello Ada</p>" });
    expect(await queue.stats()).toMatchObject({ in_flight: 0, delayed: 0, dead: 0 });
  });

  it("records a tracked job sent with the provider's message id, and drops a second message for it", async () => {
    const to = address();
    const { job_id } = await service.send(welcomeJob(to, { tracked: true }));
    expect((await processNext()).outcome.status).toBe("sent");
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({ status: "sent" });
    expect(await store.tracking.listForJob(job_id)).toEqual([
      expect.objectContaining({
        status: "sent",
        provider: "recording",
        message_id: `<${job_id}@recording.test>`,
      }),
    ]);
    await queue.publish([{ body: encodeTrackedReference(job_id), lane: "normal" }]);
    const again = await processNext();
    expect(again.outcome.status).toBe("skipped");
    expect(again.operations).toEqual(["ack"]);
    expect(provider.sentTo(to)).toHaveLength(1);
  });

  it("creates the row of a tracked job published straight to the queue", async () => {
    const to = address();
    const id = randomUUID();
    await queue.publish([{ body: JSON.stringify({ id, ...welcomeJob(to), tracked: true }), lane: "high" }]);
    expect((await processNext()).outcome.status).toBe("sent");
    expect(await store.jobs.get(id, { consistency: "strong" })).toMatchObject({ status: "sent" });
  });

  it("defers a tracked job another worker holds until that worker's claim runs out", async () => {
    const { job_id } = await service.send(welcomeJob(address(), { tracked: true }));
    await store.jobs.claim(job_id, LEASE_MS);
    const before = Date.now();
    const { outcome, operations } = await processNext();
    expect(outcome.status).toBe("deferred");
    expect(operations).toEqual(["retry"]);
    expect(provider.sent).toHaveLength(0);
    const [waiting] = queue.state.delayed;
    expect(waiting?.entry.body).toBe(encodeTrackedReference(job_id));
    expect(waiting?.runAt).toBeGreaterThanOrEqual(before + LEASE_MS);
  });

  it("dead-letters a reference to a row that does not exist, and a message that is not a job", async () => {
    const missing = randomUUID();
    await queue.publish([
      { body: encodeTrackedReference(missing), lane: "critical" },
      { body: "{not json", lane: "normal" },
      { body: JSON.stringify({ type: "welcome_email" }), lane: "low" },
    ]);
    const results = [await processNext(), await processNext(), await processNext()];
    expect(results.map((r) => [r.outcome.status, r.operations])).toEqual([
      ["dead_lettered", ["deadLetter"]],
      ["dead_lettered", ["deadLetter"]],
      ["dead_lettered", ["deadLetter"]],
    ]);
    const reasons = (await queue.listDeadLetters(10)).map((l) => l.reason).sort();
    expect(reasons).toEqual([
      expect.stringMatching(/^malformed message: body is not JSON$/),
      expect.stringMatching(/^malformed message: invalid email job: recipient_email/),
      `tracked job ${missing} does not exist`,
    ]);
  });

  it("sends one email for a repeated idempotency key on the fast path", async () => {
    const to = address();
    const key = randomUUID();
    const first = parseJob(welcomeJob(to, { idempotency_key: key }));
    const second = parseJob(welcomeJob(to, { idempotency_key: key }));
    await queue.publish([first, second].map((job) => ({ body: encodeJob(job), lane: "normal" as const })));
    const statuses = [(await processNext()).outcome.status, (await processNext()).outcome.status];
    expect(statuses).toEqual(["sent", "skipped"]);
    expect(provider.sentTo(to)).toHaveLength(1);
  });

  it("does not send to a suppressed address, and records why on a tracked job", async () => {
    const to = address();
    await store.suppressions.add({ email: to, reason: "hard_bounce", source: "smtp", details: null });
    const { job_id } = await service.send(welcomeJob(to, { tracked: true }));
    const { outcome, operations } = await processNext();
    expect(outcome.status).toBe("suppressed");
    expect(operations).toEqual(["ack"]);
    expect(provider.sent).toHaveLength(0);
    const row = await store.jobs.get(job_id, { consistency: "strong" });
    expect(row).toMatchObject({
      status: "suppressed",
      error_message: "recipient suppressed (hard_bounce, smtp)",
    });
    expect((await store.tracking.listForJob(job_id)).map((e) => e.status)).toContain("suppressed");
  });

  it("sends a fast job unchecked when the suppression list is unavailable, unless told to hold it", async () => {
    const unavailable = {
      find: async () => {
        throw new UnavailableError("PostgreSQL master is unavailable");
      },
    };
    const to = address();
    await service.send(welcomeJob(to));
    processor = processorWith({ suppressions: unavailable });
    const { outcome } = await processNext();
    expect(outcome.status).toBe("sent");
    expect(provider.sentTo(to)).toHaveLength(1);

    const held = address();
    await service.send(welcomeJob(held));
    processor = processorWith({ suppressions: unavailable, suppressionFailOpen: false });
    await expect(processNext()).rejects.toThrow("unavailable");
    expect(provider.sentTo(held)).toHaveLength(0);
  });

  it("retries a transient failure, counting the attempt, then fails and dead-letters it", async () => {
    const to = address();
    provider.failFor(to, () => new DeliveryError("transient", "smtp_451", "try later"));
    const { job_id } = await service.send(welcomeJob(to, { tracked: true, max_retries: 1 }));
    const first = await processNext();
    expect(first.outcome).toMatchObject({ status: "retrying", error_kind: "transient" });
    expect(first.operations).toEqual(["retry"]);
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({
      status: "retrying",
      retry_count: 1,
    });
    // The retry waits in the delayed set for the policy's minute: bring it forward.
    for (const waiting of queue.state.delayed) waiting.runAt = 0;
    const second = await processNext();
    expect(second.delivery.attempt).toBe(1);
    expect(second.outcome.status).toBe("failed");
    expect(second.operations).toEqual(["deadLetter"]);
    const [letter] = await queue.listDeadLetters(1);
    expect(letter).toMatchObject({ attempt: 2, reason: "gave up after 2 attempts: smtp_451: try later" });
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({ status: "failed" });
  });

  it("defers a throttled send without using up an attempt", async () => {
    const to = address();
    provider.failFor(
      to,
      () => new DeliveryError("throttled", "smtp_421", "slow down", { retryAfterMs: 5_000 }),
      1,
    );
    const { job_id } = await service.send(welcomeJob(to, { tracked: true }));
    const { outcome, operations } = await processNext();
    expect(outcome.status).toBe("retrying");
    expect(operations).toEqual(["retry"]);
    expect(queue.state.delayed[0]?.entry.attempt).toBe(0);
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({
      status: "retrying",
      retry_count: 0,
    });
  });

  it("fails a permanent error and a template that cannot render at once", async () => {
    const refused = address();
    provider.failFor(refused, () => new DeliveryError("permanent", "smtp_550", "no such user"));
    await service.send(welcomeJob(refused));
    await service.send(welcomeJob(address(), { template_id: "no_such_template" }));
    const results = [await processNext(), await processNext()];
    expect(results.map((r) => [r.outcome.status, r.operations])).toEqual([
      ["failed", ["deadLetter"]],
      ["failed", ["deadLetter"]],
    ]);
    const reasons = (await queue.listDeadLetters(10)).map((l) => l.reason.split(":")[0]).sort();
    expect(reasons).toEqual(["smtp_550", "template_not_found"]);
  });

  it("holds a scheduled job back as the same attempt, and releases a tracked job's claim", async () => {
    const later = new Date(Date.now() + 3_600_000);
    const { job_id } = await service.send(welcomeJob(address(), { tracked: true }));
    // Scheduled after it was queued (as if its message came early): the claim must be let go.
    await store.router.master
      .updateTable("email_jobs")
      .set({ scheduled_at: later })
      .where("id", "=", job_id)
      .execute();
    const { outcome, operations } = await processNext();
    expect(outcome.status).toBe("deferred");
    expect(operations).toEqual(["retry"]);
    expect(queue.state.delayed[0]?.runAt).toBe(later.getTime());
    expect((await store.jobs.get(job_id, { consistency: "strong" }))?.status).toBe("pending");
    expect(provider.sent).toHaveLength(0);
  });

  it("writes a sent tracked job's mark again when it fails with any error, rather than leave it to be claimed and sent twice", async () => {
    const to = address();
    const { job_id } = await service.send(welcomeJob(to, { tracked: true }));
    let failures = 1;
    const flakyMark = (id: string, via: string, messageId: string) =>
      failures-- > 0
        ? Promise.reject(new Error("canceling statement due to statement timeout"))
        : store.jobs.markSentWithEvent(id, via, messageId);
    // The repository's private fields need its own methods called on it, hence a proxy.
    const jobs = new Proxy(store.jobs, {
      get: (target, key) => {
        if (key === "markSentWithEvent") return flakyMark;
        const value = Reflect.get(target, key) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    processor = processorWith({ jobs });
    const { outcome, operations } = await processNext();
    expect(failures).toBe(-1);
    expect(outcome.status).toBe("sent");
    expect(operations).toEqual(["ack"]);
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({ status: "sent" });
    expect(provider.sentTo(to)).toHaveLength(1);
  });

  it("gives its worker slot back once the provider accepted a tracked job, before the sent mark is written", async () => {
    const to = address();
    const { job_id } = await service.send(welcomeJob(to, { tracked: true }));
    const seenAtRelease: { sent: number; status: string | undefined }[] = [];
    // The row is read as release is called; the read is awaited after processing.
    const reads: Promise<void>[] = [];
    const { outcome, operations } = await processNext(() => {
      reads.push(
        store.jobs.get(job_id, { consistency: "strong" }).then((row) => {
          seenAtRelease.push({ sent: provider.sentTo(to).length, status: row?.status });
        }),
      );
    });
    await Promise.all(reads);
    expect(outcome.status).toBe("sent");
    expect(seenAtRelease).toEqual([{ sent: 1, status: "processing" }]);
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({ status: "sent" });
    expect(operations).toEqual(["ack"]);
  });

  it("keeps its worker slot until recorded for a low-priority job (campaigns, bulk)", async () => {
    await service.send(welcomeJob(address(), { tracked: true, priority: "low" }));
    let released = false;
    const { outcome } = await processNext(() => {
      released = true;
    });
    expect(outcome).toMatchObject({ status: "sent", lane: "low" });
    expect(released).toBe(false);
  });

  it("keeps its worker slot for an ending other than sent", async () => {
    const to = address();
    provider.failFor(to, () => new DeliveryError("permanent", "smtp_550", "no such user"));
    await service.send(welcomeJob(to, { tracked: true }));
    let released = false;
    const { outcome } = await processNext(() => {
      released = true;
    });
    expect(outcome.status).toBe("failed");
    expect(released).toBe(false);
  });

  describe("an untracked campaign's job", () => {
    async function untrackedCampaign(size: number) {
      const campaigns = new CampaignRepository(store.router);
      const campaign = await campaigns.create({
        name: "Untracked",
        job_type: "newsletter",
        template_id: "welcome_template",
        subject: null,
        template_data: { user_name: "Ada" },
        from_email: null,
        from_name: null,
        reply_to: null,
        reply_to_name: null,
        headers: null,
        provider: null,
        priority: -1,
        max_retries: 2,
        tags: [],
        tracked: false,
        rate_limit: null,
        scheduled_at: null,
      });
      const audience = Array.from({ length: size }, () => ({ email: address(), template_data: {} }));
      await campaigns.addRecipients(campaign.id, audience, 0);
      await campaigns.transition(campaign.id, ["draft"], "running");
      const dispatch = (max: number) =>
        campaigns.dispatchSlice(campaign.id, max, (jobs) =>
          queue.publish(jobs.map((job) => ({ body: encodeJob(job), lane: "low" }))),
        );
      const counts = async () => {
        const row = await campaigns.get(campaign.id);
        return { sent: row?.sent, failed: row?.failed, cancelled: row?.cancelled, status: row?.status };
      };
      const move = (from: CampaignStatus, to: CampaignStatus) =>
        campaigns.transition(campaign.id, [from], to);
      return { campaign, audience, dispatch, counts, move, campaigns };
    }

    it("is sent and counted once, even when its message comes again", async () => {
      const { audience, dispatch, counts } = await untrackedCampaign(1);
      await dispatch(10);
      const [message] = queue.state.lanes.low.map((entry) => entry.body);
      const first = await processNext();
      expect(first.outcome).toMatchObject({ status: "sent", tracked: false });
      expect(first.operations).toEqual(["ack"]);
      await queue.publish([{ body: message as string, lane: "low" }]);
      const again = await processNext();
      expect(again.outcome.status).toBe("skipped");
      expect(provider.sentTo(audience[0]?.email as string)).toHaveLength(1);
      expect(await counts()).toMatchObject({ sent: 1, failed: 0 });
    });

    it("is parked while its campaign is paused and sent once it resumes; dropped and counted once it is cancelled", async () => {
      const { audience, dispatch, counts, move } = await untrackedCampaign(2);
      await dispatch(10);
      await move("running", "paused");
      const parked = await processNext();
      expect(parked.outcome.status).toBe("parked");
      expect(parked.operations).toEqual(["ack"]);
      expect(provider.sent).toHaveLength(0);
      await move("paused", "running");
      // The next pass puts the parked recipient back on the queue, behind the one still waiting.
      expect(await dispatch(10)).toMatchObject({ published: 1, read: 0 });
      expect((await processNext()).outcome.status).toBe("sent");
      await move("running", "cancelled");
      const cancelled = await processNext();
      expect(cancelled.outcome.status).toBe("cancelled");
      expect(cancelled.operations).toEqual(["ack"]);
      expect(provider.sent).toHaveLength(1);
      expect(audience.map((r) => provider.sentTo(r.email).length).sort()).toEqual([0, 1]);
      expect(await counts()).toMatchObject({ sent: 1, cancelled: 1, status: "cancelled" });
    });

    it("records a permanent failure as failed, and a transient one not at all until it ends", async () => {
      const { audience, dispatch, counts } = await untrackedCampaign(1);
      const to = audience[0]?.email as string;
      provider.failFor(to, () => new DeliveryError("transient", "smtp_421", "try later"));
      await dispatch(10);
      expect((await processNext()).outcome.status).toBe("retrying");
      expect(await counts()).toMatchObject({ sent: 0, failed: 0 });
      provider.failFor(to, () => new DeliveryError("permanent", "smtp_550", "no such user"));
      queue.state.delayed.forEach((entry) => {
        entry.runAt = 0;
      });
      expect((await processNext()).outcome.status).toBe("failed");
      expect(await counts()).toMatchObject({ sent: 0, failed: 1 });
    });
  });
});
