/**
 * A W3C trace context as it travels between processes: gRPC metadata and HTTP headers in, a queue
 * message's `traceparent`/`tracestate` fields (and Kafka headers) across the queue.
 */
export interface TraceCarrier {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** version-traceid-parentid-flags, lowercase hex (W3C Trace Context, level 1). */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A carrier's traceparent when it is one; anything else is ignored, as the W3C spec asks. */
export function validTraceparent(value: unknown): string | undefined {
  return typeof value === "string" && TRACEPARENT.test(value) && !value.startsWith("ff") ? value : undefined;
}

/** The trace context a request carries in its headers (HTTP) or metadata (gRPC), when it is valid. */
export function carrierFrom(get: (name: string) => string | undefined): TraceCarrier | undefined {
  const traceparent = validTraceparent(get("traceparent"));
  if (traceparent === undefined) return undefined;
  const tracestate = get("tracestate");
  return tracestate ? { traceparent, tracestate: tracestate.slice(0, 512) } : { traceparent };
}
