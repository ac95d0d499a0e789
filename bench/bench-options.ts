import { parseArgs } from "node:util";

export interface BenchOptions {
  jobs: number;
  concurrency: number;
  /** Messages a read or claim takes (`--read-batch`, or the flag the bench names). */
  batch: number;
  json: boolean;
  /** One side only (`ours`, `peer`, …), for profiling; empty for both. */
  only: string;
  /** Which SMTP sink a one-side run sends into, where the bench has a choice; empty for its default. */
  sink: string;
}

/**
 * The command line every throughput bench takes:
 * `-- --jobs N --concurrency N --<batch> N --json --only side --sink name`.
 */
export function benchOptions(defaults: { jobs: number; batch: number; batchFlag?: string }): BenchOptions {
  const batchFlag = defaults.batchFlag ?? "read-batch";
  const { values } = parseArgs({
    options: {
      jobs: { type: "string", default: String(defaults.jobs) },
      concurrency: { type: "string", default: "50" },
      [batchFlag]: { type: "string", default: String(defaults.batch) },
      json: { type: "boolean", default: false },
      only: { type: "string", default: "" },
      sink: { type: "string", default: "" },
    },
  });
  const number = (name: string) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
    return value;
  };
  return {
    jobs: number("jobs"),
    concurrency: number("concurrency"),
    batch: number(batchFlag),
    json: values.json === true,
    only: String(values.only ?? ""),
    sink: String(values.sink ?? ""),
  };
}
