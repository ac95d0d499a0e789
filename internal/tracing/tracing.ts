import {
  type Attributes,
  type Context,
  context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import type { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import { samplerFromEnv } from "./sampler.ts";
import type { TraceCarrier } from "./trace-context.ts";

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The trace this span continues (a request's or a queue message's); absent: the active span's. */
  parent?: TraceCarrier | undefined;
  links?: Link[];
}

const getter = {
  keys: (carrier: TraceCarrier) => Object.keys(carrier),
  get: (carrier: TraceCarrier, key: string) => carrier[key as keyof TraceCarrier],
};
const setter = {
  set: (carrier: TraceCarrier, key: string, value: string) => {
    if (key === "traceparent" || key === "tracestate") carrier[key] = value;
  },
};

/**
 * OpenTelemetry traces, on only when an OTLP endpoint is configured by the standard variables
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, unless OTEL_SDK_DISABLED is
 * true or OTEL_TRACES_EXPORTER is none), sampled as OTEL_TRACES_SAMPLER says (see samplerFromEnv);
 * the exporter reads the rest of the OTEL_* variables (headers, timeout) itself. Off, `span` runs its function and nothing else: no context is kept.
 */
export class Tracing {
  readonly #tracer: Tracer | undefined;
  readonly #provider: TracerProvider | undefined;
  readonly #propagator: W3CTraceContextPropagator | undefined;
  readonly #contextManager: AsyncLocalStorageContextManager | undefined;

  private constructor(
    parts?: {
      provider: TracerProvider;
      propagator: W3CTraceContextPropagator;
      contextManager: AsyncLocalStorageContextManager;
    },
    version?: string,
  ) {
    if (!parts) return;
    this.#provider = parts.provider;
    this.#propagator = parts.propagator;
    this.#tracer = parts.provider.getTracer("email-worker", version);
    // The active span follows async work (for child spans and log lines) through this.
    this.#contextManager = parts.contextManager.enable();
    context.setGlobalContextManager(this.#contextManager);
  }

  static disabled(): Tracing {
    return new Tracing();
  }

  /** Loads the SDK only when tracing is on: off, the process carries none of it. */
  static async fromEnv(env: NodeJS.ProcessEnv, service: { name: string; version: string }): Promise<Tracing> {
    const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
    const off = env.OTEL_SDK_DISABLED === "true" || env.OTEL_TRACES_EXPORTER === "none";
    if (!endpoint || off) return Tracing.disabled();
    const [
      { AsyncLocalStorageContextManager },
      { W3CTraceContextPropagator },
      { OTLPTraceExporter },
      resources,
      sdk,
    ] = await Promise.all([
      import("@opentelemetry/context-async-hooks"),
      import("@opentelemetry/core"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/sdk-trace"),
    ]);
    const provider = new sdk.TracerProvider({
      resource: resources.resourceFromAttributes({
        "service.name": env.OTEL_SERVICE_NAME || service.name,
        "service.version": service.version,
      }),
      sampler: samplerFromEnv(env, sdk),
      spanProcessors: [
        new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 1_000 }),
      ],
    });
    return new Tracing(
      {
        provider,
        propagator: new W3CTraceContextPropagator(),
        contextManager: new AsyncLocalStorageContextManager(),
      },
      service.version,
    );
  }

  /**
   * Spans handed to `exporter` as each ends (tests read them from an in-memory exporter), sampled as
   * `env`'s OTEL_TRACES_SAMPLER says.
   */
  static async forExporter(
    exporter: SpanExporter,
    service: { name: string; version: string },
    env: NodeJS.ProcessEnv = {},
  ): Promise<Tracing> {
    const [{ AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, resources, sdk] =
      await Promise.all([
        import("@opentelemetry/context-async-hooks"),
        import("@opentelemetry/core"),
        import("@opentelemetry/resources"),
        import("@opentelemetry/sdk-trace"),
      ]);
    const provider = new sdk.TracerProvider({
      resource: resources.resourceFromAttributes({
        "service.name": service.name,
        "service.version": service.version,
      }),
      sampler: samplerFromEnv(env, sdk),
      spanProcessors: [new sdk.SimpleSpanProcessor({ exporter })],
    });
    return new Tracing(
      {
        provider,
        propagator: new W3CTraceContextPropagator(),
        contextManager: new AsyncLocalStorageContextManager(),
      },
      service.version,
    );
  }

  get enabled(): boolean {
    return this.#tracer !== undefined;
  }

  /**
   * Runs `fn` inside a span named `name` (child of `options.parent`, else of the active span), ending
   * it when `fn` settles and marking it failed when it throws.
   */
  async span<T>(name: string, options: SpanOptions, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
    const tracer = this.#tracer;
    const propagator = this.#propagator;
    if (!tracer || !propagator) return fn(undefined);
    const parent = options.parent
      ? propagator.extract(ROOT_CONTEXT, options.parent, getter)
      : context.active();
    const span = tracer.startSpan(
      name,
      {
        kind: options.kind ?? SpanKind.INTERNAL,
        ...(options.attributes && { attributes: options.attributes }),
        ...(options.links && { links: options.links }),
      },
      parent,
    );
    try {
      return await context.with(trace.setSpan(parent, span), () => fn(span));
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      throw error;
    } finally {
      span.end();
    }
  }

  /** The active span's context, to carry on (into a queue message); undefined when there is none. */
  carrier(active: Context = context.active()): TraceCarrier | undefined {
    if (!this.#propagator || trace.getSpan(active) === undefined) return undefined;
    const carrier: TraceCarrier = {};
    this.#propagator.inject(active, carrier, setter);
    return carrier.traceparent ? carrier : undefined;
  }

  /** trace_id and span_id of the active span, for log lines. */
  logFields(): { trace_id: string; span_id: string } | undefined {
    if (!this.#tracer) return undefined;
    const spanContext = trace.getActiveSpan()?.spanContext();
    return spanContext ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : undefined;
  }

  /** Exports what is left and stops. */
  async shutdown(): Promise<void> {
    await this.#provider?.shutdown();
    this.#contextManager?.disable();
  }
}

export { SpanKind };
