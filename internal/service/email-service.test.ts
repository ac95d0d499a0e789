import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { embeddedEmailService, memoryQueueOptions } from "../../test/embedded-service.ts";
import { type EmbeddedStore, openEmbeddedStore } from "../../test/embedded-store.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import { decodeQueueMessage } from "../job/queue-message.ts";
import { MemoryQueue } from "../queue/memory/memory-queue.ts";
import type { QueueMessage } from "../queue/queue.ts";
import { BatchInterruptedError, type EmailService } from "./email-service.ts";

/** A queue whose publishing fails while `down` is set, as a queue backend that went away. */
class FlakyQueue extends MemoryQueue {
  down = false;

  override async publish(messages: readonly QueueMessage[]) {
    if (this.down) throw new Error("queue unreachable");
    return super.publish(messages);
  }
}

describe("EmailService (in-memory queue, embedded PostgreSQL)", () => {
  let store: EmbeddedStore;
  let queue: FlakyQueue;
  let service: EmailService;

  beforeAll(async () => {
    store = await openEmbeddedStore();
  });
  afterAll(() => store?.close());

  beforeEach(() => {
    queue = new FlakyQueue(memoryQueueOptions());
    service = serviceOn(queue);
  });

  const serviceOn = (on: FlakyQueue, onQueued?: () => void) =>
    embeddedEmailService(store, on, { ...(onQueued && { onQueued }) });

  const input = (fields: Record<string, unknown> = {}) => ({
    type: "welcome_email",
    recipient_email: `user-${randomUUID()}@example.org`,
    subject: "Hi",
    text: "Hello",
    ...fields,
  });
  const waiting = () => {
    const { lanes } = queue.state;
    return [...lanes.critical, ...lanes.high, ...lanes.normal, ...lanes.low];
  };
  const decode = (body: string) => decodeQueueMessage(body, () => "unused");

  it("puts a fast job on its priority's lane, whole, with the default max_retries", async () => {
    const accepted = await service.send(input({ priority: "high" }));
    expect(accepted).toMatchObject({ tracked: false, duplicate: false });
    const [entry] = queue.state.lanes.high;
    expect(entry && decode(entry.body)).toMatchObject({
      kind: "job",
      job: { id: accepted.job_id, max_retries: 3 },
    });
    expect(await store.jobs.get(accepted.job_id, { consistency: "strong" })).toBeUndefined();
  });

  it("holds a scheduled job in the delayed set until its time", async () => {
    const at = new Date(Date.now() + 3_600_000);
    const accepted = await service.send(input({ scheduled_at: at.toISOString() }));
    expect(accepted.scheduled_at).toEqual(at);
    expect(waiting()).toHaveLength(0);
    expect(queue.state.delayed.map((d) => d.runAt)).toEqual([at.getTime()]);
  });

  it("writes a tracked job's row first and queues only its reference", async () => {
    const { job_id } = await service.send(input({ tracked: true, priority: "critical" }));
    const [entry] = queue.state.lanes.critical;
    expect(entry && decode(entry.body)).toEqual({ kind: "tracked_reference", id: job_id });
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({ status: "pending" });
  });

  it("answers a repeated request with its idempotency key with the first job, queueing nothing new", async () => {
    const request = input({ idempotency_key: randomUUID() });
    const first = await service.send(request);
    const again = await service.send({ ...request });
    expect(again).toMatchObject({ job_id: first.job_id, duplicate: true });
    expect(waiting()).toHaveLength(1);
  });

  it("refuses an idempotency key reused for a different request, naming the first job", async () => {
    const key = randomUUID();
    for (const tracked of [false, true]) {
      const request = input({ idempotency_key: `${key}-${tracked}`, tracked });
      const first = await service.send(request);
      const error = await service.send({ ...request, subject: "Something else" }).catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: "conflict", code: "idempotency_key_reused" });
      expect((error as Error).message).toContain(first.job_id);
    }
  });

  it("sends a fast job whose id the client chose once, however often the request comes", async () => {
    const id = randomUUID();
    const request = input({ id });
    expect(await service.send(request)).toMatchObject({ job_id: id, duplicate: false });
    expect(await service.send({ ...request })).toMatchObject({ job_id: id, duplicate: true });
    expect(waiting()).toHaveLength(1);
    await expect(service.send({ ...request, text: "Other" })).rejects.toMatchObject({
      kind: "conflict",
      code: "idempotency_key_reused",
    });
  });

  it("frees a fast job's idempotency key when the queue refused it, so the caller can try again", async () => {
    const key = randomUUID();
    queue.down = true;
    await expect(service.send(input({ idempotency_key: key }))).rejects.toThrow("queue unreachable");
    queue.down = false;
    const retried = await service.send(input({ idempotency_key: key }));
    expect(retried.duplicate).toBe(false);
    expect(waiting()).toHaveLength(1);
  });

  it("accepts a tracked job while the queue is down: the row is kept for the reconciler", async () => {
    queue.down = true;
    const { job_id } = await service.send(input({ tracked: true }));
    const row = await store.jobs.get(job_id, { consistency: "strong" });
    expect(row).toMatchObject({ status: "pending", enqueued_at: null });
    expect(waiting()).toHaveLength(0);
  });

  it("refuses a job that claims a campaign's recipient: only a campaign's dispatch makes those", async () => {
    const forged = input({ campaign_id: randomUUID(), campaign_recipient: 1 });
    await expect(service.send(forged)).rejects.toMatchObject({
      violations: [{ field: "campaign_id", description: "is set by a campaign's dispatch, not at intake" }],
    });
    const [result] = await service.sendBatch([forged]);
    expect(result?.ok).toBe(false);
    expect(waiting()).toHaveLength(0);
  });

  it("refuses invalid input naming the field, and judges each job of a batch alone", async () => {
    await expect(service.send(input({ recipient_email: "nope" }))).rejects.toBeInstanceOf(JobValidationError);
    const results = await service.sendBatch([input(), { type: "x" }, input({ tracked: true })]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    const refused = results[1];
    expect(refused?.ok === false && refused.error).toMatchObject({ kind: "invalid_argument" });
    expect(waiting()).toHaveLength(2);
  });

  it("sends a failed tracked job again with fresh attempts, and says why it will not retry others", async () => {
    const { job_id } = await service.send(input({ tracked: true }));
    expect(await service.retry(job_id)).toMatchObject({
      outcome: "not_retryable",
      job: { status: "pending" },
    });
    await store.jobs.claim(job_id, 60_000);
    await store.jobs.markFailed(job_id, "smtp_550: no such user");
    queue.state.lanes.normal.length = 0;
    expect(await service.retry(job_id)).toMatchObject({ outcome: "queued" });
    expect(queue.state.lanes.normal.map((e) => decode(e.body))).toEqual([
      { kind: "tracked_reference", id: job_id },
    ]);
    expect(await service.retry(randomUUID())).toEqual({ outcome: "not_found" });
  });

  it("lists dead letters by reason and replays them, or only says which it would", async () => {
    await queue.publish([
      { body: "a", lane: "normal" },
      { body: "b", lane: "normal" },
    ]);
    for (const delivery of await queue.fetch(2))
      await queue.deadLetter(delivery, delivery.body === "a" ? "smtp_550: no such user" : "smtp_554: spam");
    const spam = await service.listDeadLetters({ limit: 10, reasonContains: "spam" });
    expect(spam.letters.map((l) => l.body)).toEqual(["b"]);
    const dry = await service.replayDeadLetters({ ids: [], reasonContains: "550", limit: 10, dryRun: true });
    expect(dry.replayed).toHaveLength(1);
    expect((await queue.stats()).dead).toBe(2);
    const done = await service.replayDeadLetters({
      ids: [...dry.replayed, "no-such-id"],
      limit: 10,
      dryRun: false,
    });
    expect(done).toEqual({ replayed: dry.replayed, missing: ["no-such-id"] });
    expect(waiting().map((e) => e.body)).toEqual(["a"]);
  });

  it("makes a null item and a taken tracked id that item's error, and queues the others once", async () => {
    const { job_id: taken } = await service.send(input({ tracked: true }));
    const results = await service.sendBatch([
      input(),
      null,
      input({ tracked: true, id: taken }),
      input({ tracked: true }),
      42,
    ]);
    expect(results.map((r) => (r.ok ? "ok" : (r.error as { kind?: string }).kind))).toEqual([
      "ok",
      "invalid_argument",
      "conflict",
      "ok",
      "invalid_argument",
    ]);
    expect(waiting()).toHaveLength(3);
  });

  it("stops a batch at a server fault, naming the items queued before it", async () => {
    // The queue goes away once two jobs are in.
    let accepted = 0;
    const failing = serviceOn(queue, () => {
      if (++accepted === 2) queue.down = true;
    });
    const stopped = await failing
      .sendBatch([input(), input({ id: "nope" }), input(), input(), input()])
      .catch((error: unknown) => error);
    expect(stopped).toBeInstanceOf(BatchInterruptedError);
    const { kind, results } = stopped as BatchInterruptedError;
    expect(kind).toBe("internal");
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(waiting()).toHaveLength(2);
  });

  it("refuses a fast job that names a tracked job's id, and takes any other id it names", async () => {
    const { job_id: tracked } = await service.send(input({ tracked: true }));
    await expect(service.send(input({ id: tracked }))).rejects.toMatchObject({
      kind: "conflict",
      code: "job_id_taken",
    });
    const free = randomUUID();
    expect(await service.send(input({ id: free }))).toMatchObject({ job_id: free, tracked: false });
    await expect(service.send(input({ id: tracked, tracked: true }))).rejects.toMatchObject({
      kind: "conflict",
    });
  });

  it("checks a job's content and its id side by side, and names the content when both fail", async () => {
    const { job_id: tracked } = await service.send(input({ tracked: true }));
    let release: () => void = () => {};
    const started: string[] = [];
    const checked = embeddedEmailService(store, queue, {
      check: async (job) => {
        started.push("check");
        // Held until the id lookup has begun too: they run at once, not in turn.
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        if (job.subject === "bad")
          throw new JobValidationError([{ field: "subject", description: "is bad" }]);
      },
      jobs: Object.assign(Object.create(store.jobs), {
        exists: (id: string) => {
          started.push("exists");
          release();
          return store.jobs.exists(id);
        },
      }),
    });
    await expect(checked.send(input({ id: tracked, subject: "bad" }))).rejects.toBeInstanceOf(
      JobValidationError,
    );
    expect(started).toEqual(["check", "exists"]);
    await expect(checked.send(input({ id: tracked }))).rejects.toMatchObject({ code: "job_id_taken" });
  });
});
