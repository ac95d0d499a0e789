import { randomBytes } from "node:crypto";
import { Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmailWorkerClient } from "../../internal/client/email-worker-client.ts";
import { jobToProto } from "../../internal/client/job-to-proto.ts";
import { parseJob } from "../../internal/job/parse-job.ts";
import { spanAttribute as attribute, type OtlpReceiver, startOtlpReceiver } from "../otlp-receiver.ts";
import { createTestDatabase, type TestDatabase } from "../postgres.ts";
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from "../redis.ts";
import { type ServiceProcess, smtpSinkEnv, startServiceProcess } from "../service-process.ts";
import { type SmtpSink, startSmtpSink } from "../smtp-sink.ts";
import { until } from "../until.ts";

/**
 * OpenTelemetry across processes: a gRPC SendEmail carrying a traceparent goes to an `api` process,
 * across a Redis queue to a `worker` process, and out to an SMTP server; every span the two export
 * belongs to the caller's trace, in order: intake → deliver → render, send, record.
 */
describe("a trace from a gRPC SendEmail to the SMTP server's acceptance", () => {
  let receiver: OtlpReceiver;
  let database: TestDatabase;
  let sink: SmtpSink;
  let queuePrefix: string;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  /** The traces the tests below started as callers. */
  const callerTraces = new Set<string>();

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    database = await createTestDatabase("ew_tracing");
    sink = await startSmtpSink();
    queuePrefix = uniquePrefix("tracing");
    const env = {
      QUEUE_DRIVER: "redis",
      REDIS_URL: redisUrl(),
      QUEUE_NAME: queuePrefix,
      QUEUE_POLL_INTERVAL: "100ms",
      DATABASE_URL: database.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // Only traces a caller started and sampled: none of the service's own.
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0",
      ...smtpSinkEnv(sink.port),
    };
    api = await startServiceProcess({ ...env, ROLE: "api", OTEL_SERVICE_NAME: "email-worker-api" });
    worker = await startServiceProcess({ ...env, ROLE: "worker", OTEL_SERVICE_NAME: "email-worker-worker" });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await sink?.close();
    const redis = await connectRedis();
    await deleteKeys(redis, queuePrefix);
    redis.disconnect();
    await database?.drop();
    await receiver?.close();
  });

  /** SendEmail over gRPC, with the caller's `traceparent` when given; resolves once it is delivered. */
  async function sendEmail(recipient: string, tracked: boolean, traceparent?: string): Promise<void> {
    const client = new EmailWorkerClient({ address: api.grpcAddress });
    try {
      const metadata = new Metadata();
      if (traceparent) metadata.set("traceparent", traceparent);
      const job = parseJob({
        type: "receipt",
        recipient_email: recipient,
        subject: "Traced",
        text: "hi",
        tracked,
      });
      await new Promise((resolve, reject) =>
        client.raw.sendEmail({ job: jobToProto(job) }, metadata, (error, response) =>
          error ? reject(error) : resolve(response),
        ),
      );
    } finally {
      client.close();
    }
    await until(async () => sink.messages.some((m) => m.to.includes(recipient)), 20_000, "the email");
  }

  it("samples as OTEL_TRACES_SAMPLER says: an email whose caller sent no trace makes no spans", async () => {
    await sendEmail("untraced@example.com", true);
    // Spans are exported in the order they end: once a later traced email's last span is in, any
    // span of the untraced one would be too.
    const traceId = randomBytes(16).toString("hex");
    await sendEmail("traced-after@example.com", false, `00-${traceId}-${randomBytes(8).toString("hex")}-01`);
    await until(
      async () => receiver.spans.some((s) => s.traceId === traceId && s.name === "email record"),
      20_000,
      "the traced email's spans",
    );
    const traceIds = new Set(receiver.spans.map((s) => s.traceId));
    expect(traceIds).toContain(traceId);
    const untraced = receiver.spans.filter((s) => s.traceId !== traceId && !callerTraces.has(s.traceId));
    expect(untraced).toEqual([]);
  });

  it.each([false, true])("continues the caller's trace through the queue (tracked: %s)", async (tracked) => {
    const traceId = randomBytes(16).toString("hex");
    callerTraces.add(traceId);
    const callerSpanId = randomBytes(8).toString("hex");
    const recipient = `traced-${tracked}@example.com`;
    await sendEmail(recipient, tracked, `00-${traceId}-${callerSpanId}-01`);
    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    await until(async () => inTrace().some((s) => s.name === "email record"), 20_000, "the worker's spans");

    const spans = inTrace();
    const named = (name: string) => spans.find((s) => s.name === name);
    const intake = named("emailworker.v1.EmailWorkerService/SendEmail");
    const deliver = named("email deliver");
    expect(intake).toMatchObject({ service: "email-worker-api", parentSpanId: callerSpanId });
    expect(deliver).toMatchObject({ service: "email-worker-worker", parentSpanId: intake?.spanId });
    for (const child of ["email render", "email send", "email record"])
      expect(named(child), child).toMatchObject({
        service: "email-worker-worker",
        parentSpanId: deliver?.spanId,
      });
    const send = named("email send");
    expect(attribute(send, "email.provider")).toBe("smtp");
    const sent = sink.messages.find((m) => m.to.includes(recipient));
    const messageId = String(attribute(send, "email.message_id"));
    expect(messageId).not.toBe("");
    expect(sent?.header("message-id")).toContain(messageId);
    expect(attribute(deliver, "email.tracked")).toBe(tracked);
    // The time the message spent on the Redis stream, from its entry id.
    const waited = Number(attribute(deliver, "email.queue_wait_ms"));
    expect(waited).toBeGreaterThanOrEqual(0);
    expect(waited).toBeLessThan(20_000);
    // Spans name the provider and the message, never the recipient.
    expect(JSON.stringify(spans)).not.toContain(recipient);
    // The worker's log lines about the job carry the trace.
    expect(worker.output()).toContain(`"trace_id":"${traceId}"`);
  });
});
