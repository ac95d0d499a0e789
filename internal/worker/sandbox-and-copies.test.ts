import { randomUUID } from "node:crypto";
import { simpleParser } from "mailparser";
import { Registry } from "prom-client";
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
import { LabelLimiter } from "../metrics/label-limiter.ts";
import { createMetrics } from "../metrics/metrics.ts";
import { MemoryQueue } from "../queue/memory/memory-queue.ts";
import type { EmailService } from "../service/email-service.ts";
import { RenderPool } from "../template/render-pool.ts";
import type { JobOutcome, JobProcessor } from "./job-processor.ts";
import { recordOutcome } from "./outcome-metrics.ts";

describe("sandbox jobs and Cc/Bcc suppression in the worker (in-memory queue, embedded PostgreSQL)", () => {
  let store: EmbeddedStore;
  let queue: MemoryQueue;
  let provider: RecordingProvider;
  let processor: JobProcessor;
  let service: EmailService;
  const renderPool = new RenderPool({ threads: 1, timeoutMs: 5_000 });

  beforeAll(async () => {
    store = await openStoreWithWelcomeTemplate();
  });
  afterAll(() => Promise.all([store?.close(), renderPool.stop()]));

  beforeEach(() => {
    queue = new MemoryQueue(memoryQueueOptions({ fairShare: 0.1 }));
    provider = new RecordingProvider();
    service = embeddedEmailService(store, queue, { defaultMaxRetries: 2 });
    processor = embeddedJobProcessor(
      { store, queue, provider, renderPool },
      { queueName: "sandbox", defaultMaxRetries: 2 },
    );
  });

  const address = (prefix = "user") => `${prefix}-${randomUUID()}@example.org`;

  async function processNext(): Promise<JobOutcome> {
    await queue.promoteDue();
    const [delivery] = await queue.fetch(1);
    if (!delivery) throw new Error("nothing on the queue");
    return processor.process(delivery);
  }

  it("renders and composes a tracked sandbox job, ends it sandboxed with its event, and sends nothing", async () => {
    const to = address();
    const cc = address("cc");
    const { job_id } = await service.send(
      welcomeJob(to, { tracked: true, sandbox: true, cc: [cc], tags: ["ci"] }),
    );
    const outcome = await processNext();
    expect(outcome).toMatchObject({ status: "sandboxed", provider: "recording", tracked: true });
    expect(provider.sent).toEqual([]);
    const [composed] = provider.composed;
    const parsed = await simpleParser(composed?.message ?? Buffer.alloc(0));
    expect(parsed.subject).toBe("Welcome Ada");
    expect(parsed.text).toContain("Hello Ada");
    expect(parsed.cc).toMatchObject({ value: [{ address: cc }] });
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({
      status: "sandboxed",
      provider: "recording",
      sandbox: true,
      tags: ["ci"],
      error_message: null,
      sent_at: null,
    });
    expect(await store.tracking.listForJob(job_id)).toEqual([
      expect.objectContaining({ status: "sandboxed", provider: "recording", message_id: null }),
    ]);
    expect(await queue.stats()).toMatchObject({ in_flight: 0, delayed: 0, dead: 0 });
  });

  it("acknowledges a fast-path sandbox job with nothing sent and counts it under its own status", async () => {
    const metrics = createMetrics(new Registry());
    const jobTypes = new LabelLimiter({ always: [], max: 10 });
    await service.send(welcomeJob(address(), { sandbox: true }));
    const outcome = await processNext();
    recordOutcome(metrics, jobTypes, outcome);
    expect(outcome).toMatchObject({ status: "sandboxed", tracked: false });
    expect(provider.sent).toEqual([]);
    expect(provider.composed).toHaveLength(1);
    const counted = (await metrics.jobsProcessed.get()).values.find((v) => v.labels.status === "sandboxed");
    expect(counted).toMatchObject({ value: 1, labels: { job_type: "welcome_email", provider: "recording" } });
    expect(await queue.stats()).toMatchObject({ in_flight: 0, delayed: 0, dead: 0 });
  });

  it("fails a sandbox job whose template does not render, as a real send would", async () => {
    const to = address();
    await queue.publish([
      {
        body: JSON.stringify(welcomeJob(to, { sandbox: true, template_data: {}, tracked: false })),
        lane: "normal",
      },
    ]);
    const outcome = await processNext();
    expect(outcome.status).toBe("failed");
    expect(provider.composed).toEqual([]);
  });

  it("drops suppressed Cc and Bcc addresses and sends to the rest", async () => {
    const to = address();
    const [keptCc, goneCc, keptBcc, goneBcc] = [address("cc"), address("cc"), address("bcc"), address("bcc")];
    await store.suppressions.add({ email: goneCc.toUpperCase(), reason: "hard_bounce", source: "test" });
    await store.suppressions.add({ email: goneBcc, reason: "complaint", source: "test" });
    await service.send(welcomeJob(to, { cc: [keptCc, goneCc], bcc: [goneBcc, keptBcc] }));
    expect((await processNext()).status).toBe("sent");
    const [sent] = provider.sentTo(to);
    expect(sent?.cc).toEqual([{ email: keptCc }]);
    expect(sent?.bcc).toEqual([{ email: keptBcc }]);
  });

  it("still suppresses the whole job when its To address is suppressed", async () => {
    const to = address();
    await store.suppressions.add({ email: to, reason: "unsubscribe", source: "test" });
    const { job_id } = await service.send(welcomeJob(to, { tracked: true, cc: [address("cc")] }));
    expect((await processNext()).status).toBe("suppressed");
    expect(provider.sent).toEqual([]);
    expect(await store.jobs.get(job_id, { consistency: "strong" })).toMatchObject({ status: "suppressed" });
  });

  it("sends a tracked job's Cc, Bcc and tags from its row", async () => {
    const to = address();
    const { job_id } = await service.send(
      welcomeJob(to, {
        tracked: true,
        cc: ["Bob <bob@example.org>"],
        bcc: ["audit@example.org"],
        tags: ["a", "b"],
      }),
    );
    expect((await processNext()).status).toBe("sent");
    expect(provider.sentTo(to)[0]).toMatchObject({
      job_id,
      cc: [{ email: "bob@example.org", name: "Bob" }],
      bcc: [{ email: "audit@example.org" }],
      tags: ["a", "b"],
    });
  });
});
