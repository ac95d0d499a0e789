import { describe, expect, it } from "vitest";
import { parseJob } from "../job/parse-job.ts";
import { decodeQueueMessage, encodeNextAttempt, encodeTrackedReference } from "../job/queue-message.ts";
import { carrierFrom, validTraceparent } from "./trace-context.ts";
import { Tracing } from "./tracing.ts";

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const fields = (values: Record<string, string>) => (name: string) => values[name];

describe("W3C trace context", () => {
  it("takes a valid traceparent and ignores anything else, as the specification asks", () => {
    expect(validTraceparent(TRACEPARENT)).toBe(TRACEPARENT);
    for (const bad of [
      "",
      "00-abc-def-01",
      TRACEPARENT.toUpperCase(),
      `ff${TRACEPARENT.slice(2)}`,
      42,
      undefined,
    ])
      expect(validTraceparent(bad)).toBeUndefined();
    expect(carrierFrom(fields({ traceparent: TRACEPARENT, tracestate: "vendor=1" }))).toEqual({
      traceparent: TRACEPARENT,
      tracestate: "vendor=1",
    });
    expect(carrierFrom(fields({ traceparent: "garbage", tracestate: "vendor=1" }))).toBeUndefined();
  });

  it("travels in a job and in a tracked job's reference, and is never a reason to refuse a job", () => {
    const job = parseJob({
      type: "receipt",
      recipient_email: "a@example.com",
      subject: "s",
      text: "t",
      traceparent: TRACEPARENT,
      tracestate: "vendor=1",
    });
    expect(job).toMatchObject({ traceparent: TRACEPARENT, tracestate: "vendor=1" });
    const invalid = parseJob({
      type: "receipt",
      recipient_email: "a@example.com",
      subject: "s",
      text: "t",
      traceparent: 7,
    });
    expect(invalid.traceparent).toBeUndefined();

    const reference = decodeQueueMessage(encodeTrackedReference(job.id, job), () => "unused");
    expect(reference).toEqual({
      kind: "tracked_reference",
      id: job.id,
      trace: { traceparent: TRACEPARENT, tracestate: "vendor=1" },
    });
    expect(decodeQueueMessage(encodeNextAttempt({ ...job, tracked: true }), () => "unused")).toMatchObject({
      trace: { traceparent: TRACEPARENT },
    });
    expect(decodeQueueMessage(encodeTrackedReference(job.id), () => "unused")).toMatchObject({
      trace: undefined,
    });
  });

  it("costs nothing when off: spans only run their function, and nothing is carried on", async () => {
    const tracing = await Tracing.fromEnv({}, { name: "email-worker", version: "test" });
    expect(tracing.enabled).toBe(false);
    expect(
      await tracing.span("x", { parent: { traceparent: TRACEPARENT } }, async (span) => span),
    ).toBeUndefined();
    expect(tracing.carrier()).toBeUndefined();
    expect(tracing.logFields()).toBeUndefined();
    const disabled = await Tracing.fromEnv(
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1", OTEL_SDK_DISABLED: "true" },
      { name: "email-worker", version: "test" },
    );
    expect(disabled.enabled).toBe(false);
  });
});
