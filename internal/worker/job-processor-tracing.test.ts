import { randomUUID } from "node:crypto";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  embeddedJobProcessor,
  memoryQueueOptions,
  openStoreWithWelcomeTemplate,
  welcomeJob,
} from "../../test/embedded-service.ts";
import type { EmbeddedStore } from "../../test/embedded-store.ts";
import { RecordingProvider } from "../../test/recording-provider.ts";
import { parseJob } from "../job/parse-job.ts";
import { encodeJob } from "../job/queue-message.ts";
import { MemoryQueue } from "../queue/memory/memory-queue.ts";
import { RenderPool } from "../template/render-pool.ts";
import { Tracing } from "../tracing/tracing.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_SPAN}-01`;

describe("JobProcessor spans (OpenTelemetry on, in-memory exporter)", () => {
  let store: EmbeddedStore;
  let tracing: Tracing;
  const exporter = new InMemorySpanExporter();
  const renderPool = new RenderPool({ threads: 1, timeoutMs: 5_000 });

  beforeAll(async () => {
    store = await openStoreWithWelcomeTemplate();
    tracing = await Tracing.forExporter(exporter, { name: "email-worker", version: "test" });
  });
  afterAll(async () => {
    await tracing.shutdown();
    await Promise.all([store?.close(), renderPool.stop()]);
  });

  /** Publishes `body`, waits `waitMs` before fetching it, and processes it. */
  async function deliver(body: string, headers?: Record<string, string>, waitMs = 0) {
    exporter.reset();
    const queue = new MemoryQueue(memoryQueueOptions());
    const provider = new RecordingProvider();
    const processor = embeddedJobProcessor({ store, queue, provider, renderPool }, { tracing });
    await queue.publish([{ body, lane: "normal" }]);
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    const [delivery] = await queue.fetch(1);
    if (!delivery) throw new Error("nothing on the queue");
    const outcome = await processor.process(headers ? { ...delivery, headers } : delivery);
    return { outcome, spans: exporter.getFinishedSpans() };
  }

  const byName = (spans: ReadableSpan[], name: string) => spans.find((s) => s.name === name);

  it("continues the trace a job carries: deliver, and render, send and record under it", async () => {
    const to = `traced-${randomUUID()}@example.org`;
    const job = parseJob({ ...welcomeJob(to), traceparent: TRACEPARENT });
    const { outcome, spans } = await deliver(encodeJob(job));
    expect(outcome.status).toBe("sent");
    const deliverSpan = byName(spans, "email deliver");
    expect(deliverSpan?.spanContext().traceId).toBe(TRACE_ID);
    expect(deliverSpan?.parentSpanContext?.spanId).toBe(PARENT_SPAN);
    for (const name of ["email render", "email send", "email record"]) {
      const span = byName(spans, name);
      expect(span?.parentSpanContext?.spanId, name).toBe(deliverSpan?.spanContext().spanId);
    }
    expect(byName(spans, "email send")?.attributes).toMatchObject({
      "email.provider": "recording",
      "email.message_id": `<${job.id}@recording.test>`,
    });
    expect(deliverSpan?.attributes).toMatchObject({ "email.status": "sent", "email.attempt": 1 });
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(to);
  });

  it("records how long the message waited on the queue", async () => {
    const job = parseJob(welcomeJob(`waited-${randomUUID()}@example.org`));
    const { spans } = await deliver(encodeJob(job), undefined, 250);
    const waited = byName(spans, "email deliver")?.attributes["email.queue_wait_ms"];
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(60_000);
  });

  it("continues a trace carried only in the transport's headers (a Kafka publisher's)", async () => {
    const job = parseJob(welcomeJob(`headers-${randomUUID()}@example.org`));
    const { spans } = await deliver(encodeJob(job), { traceparent: TRACEPARENT });
    expect(byName(spans, "email deliver")?.parentSpanContext?.spanId).toBe(PARENT_SPAN);
  });

  it("starts a trace of its own for a message that carries none", async () => {
    const { spans } = await deliver(encodeJob(parseJob(welcomeJob(`plain-${randomUUID()}@example.org`))));
    const deliverSpan = byName(spans, "email deliver");
    expect(deliverSpan?.parentSpanContext).toBeUndefined();
    expect(deliverSpan?.spanContext().traceId).not.toBe(TRACE_ID);
  });
});
