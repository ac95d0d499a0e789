import type { Sampler } from "@opentelemetry/sdk-trace";

type Sdk = typeof import("@opentelemetry/sdk-trace");

const SAMPLER_NAMES = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

/**
 * The sampler named by OpenTelemetry's standard variables: OTEL_TRACES_SAMPLER (one of
 * SAMPLER_NAMES; parentbased_always_on when unset, every trace kept) and OTEL_TRACES_SAMPLER_ARG (the
 * ratio of the *traceidratio samplers, 1 when unset). The `parentbased_` ones follow the caller's
 * decision when a request or queue message carries a trace, so a trace is kept or dropped whole.
 * A value that is not one of these is refused rather than silently tracing everything.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv, sdk: Sdk): Sampler {
  const given = env.OTEL_TRACES_SAMPLER?.trim();
  const name = given ? given.toLowerCase() : "parentbased_always_on";
  const ratio = (): number => {
    const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
    if (!arg) return 1;
    const value = Number(arg);
    if (!(value >= 0 && value <= 1))
      throw new RangeError(`OTEL_TRACES_SAMPLER_ARG: a ratio from 0 to 1 for ${name}, not "${arg}"`);
    return value;
  };
  switch (name) {
    case "always_on":
      return new sdk.AlwaysOnSampler();
    case "always_off":
      return new sdk.AlwaysOffSampler();
    case "traceidratio":
      return new sdk.TraceIdRatioBasedSampler(ratio());
    case "parentbased_always_on":
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case "parentbased_always_off":
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new RangeError(`OTEL_TRACES_SAMPLER: one of ${SAMPLER_NAMES.join(", ")}, not "${given}"`);
  }
}
