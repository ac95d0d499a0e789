import { type Context, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from "@opentelemetry/api";
import * as sdk from "@opentelemetry/sdk-trace";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { samplerFromEnv } from "./sampler.ts";
import { Tracing } from "./tracing.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

/** A context whose remote parent decided to sample (or not). */
function parent(sampled: boolean): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE_ID,
    spanId: "00f067aa0ba902b7",
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

function decide(env: NodeJS.ProcessEnv, context: Context): sdk.SamplingDecision {
  return samplerFromEnv(env, sdk).shouldSample(context, TRACE_ID, "email deliver", SpanKind.CONSUMER, {}, [])
    .decision;
}

const { RECORD_AND_SAMPLED: KEPT, NOT_RECORD: DROPPED } = sdk.SamplingDecision;

describe("samplerFromEnv (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG)", () => {
  it("keeps every trace when unset, and follows a caller that decided", () => {
    expect(decide({}, ROOT_CONTEXT)).toBe(KEPT);
    expect(decide({}, parent(false))).toBe(DROPPED);
  });

  it("parentbased_traceidratio 0 starts no trace of its own but continues a caller's sampled one", () => {
    const env = { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" };
    expect(decide(env, ROOT_CONTEXT)).toBe(DROPPED);
    expect(decide(env, parent(true))).toBe(KEPT);
    expect(decide(env, parent(false))).toBe(DROPPED);
    expect(decide({ ...env, OTEL_TRACES_SAMPLER_ARG: "1" }, ROOT_CONTEXT)).toBe(KEPT);
  });

  it("the samplers that are not parent-based ignore the caller", () => {
    expect(decide({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" }, parent(true))).toBe(
      DROPPED,
    );
    expect(decide({ OTEL_TRACES_SAMPLER: "ALWAYS_OFF" }, parent(true))).toBe(DROPPED);
    expect(decide({ OTEL_TRACES_SAMPLER: "always_on" }, parent(false))).toBe(KEPT);
    expect(decide({ OTEL_TRACES_SAMPLER: "parentbased_always_off" }, ROOT_CONTEXT)).toBe(DROPPED);
  });

  it("refuses a sampler or ratio it does not know, naming the variable", () => {
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: "sometimes" }, sdk)).toThrow(
      /^OTEL_TRACES_SAMPLER: one of always_on, .* not "sometimes"$/,
    );
    for (const arg of ["1.5", "-0.1", "half"])
      expect(() =>
        samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: arg }, sdk),
      ).toThrow(`OTEL_TRACES_SAMPLER_ARG: a ratio from 0 to 1 for traceidratio, not "${arg}"`);
  });

  it("is what the service's tracer samples with: no span for a new trace, spans for a caller's", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await Tracing.forExporter(
      exporter,
      { name: "email-worker", version: "test" },
      { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" },
    );
    try {
      await tracing.span("email deliver", {}, async () => {});
      expect(exporter.getFinishedSpans()).toEqual([]);
      await tracing.span(
        "email deliver",
        { parent: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` } },
        () => tracing.span("email send", {}, async () => {}),
      );
      expect(exporter.getFinishedSpans().map((s) => [s.name, s.spanContext().traceId])).toEqual([
        ["email send", TRACE_ID],
        ["email deliver", TRACE_ID],
      ]);
    } finally {
      await tracing.shutdown();
    }
  });
});
