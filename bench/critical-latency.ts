// npm run bench:latency [-- --backlog 100000 --json]
// Scenario (d) of the README's Benchmark section: how long a `critical` email waits while a large `low` backlog drains.
// The worker pool runs in this process on Redis with a provider that accepts instantly; critical
// jobs are published one every 10 ms while the backlog is still draining, and timed from publish to
// the provider call.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { inProcessWorker } from "./in-process-worker.ts";
import { machineDescription } from "./machine.ts";
import { TARGETS } from "./targets.ts";

const { values: args } = parseArgs({
  options: {
    backlog: { type: "string", default: "100000" },
    critical: { type: "string", default: "100" },
    json: { type: "boolean", default: false },
  },
});
const BACKLOG = Number(args.backlog);
const CRITICAL = Number(args.critical);

const publishedAt = new Map<string, number>();
const latencies: number[] = [];
const worker = await inProcessWorker({
  name: `ew-bench-latency:${randomUUID().slice(0, 8)}`,
  concurrency: 50,
  onSend: (email) => {
    const at = publishedAt.get(email.job_id);
    if (at !== undefined) latencies.push(performance.now() - at);
  },
});
const { queue } = worker;
const job = (lane: string, i: number, id?: string) =>
  JSON.stringify({
    ...(id && { id }),
    type: `${lane}_email`,
    recipient_email: `u${i}@example.org`,
    subject: "Hi",
    text: "Hello",
  });
for (let i = 0; i < BACKLOG; i += 1_000) {
  await queue.publish(
    Array.from({ length: Math.min(1_000, BACKLOG - i) }, (_, k) => ({
      lane: "low" as const,
      body: job("low", i + k),
    })),
  );
}

worker.start();
await sleep(500);
for (let i = 0; i < CRITICAL; i++) {
  const id = randomUUID();
  publishedAt.set(id, performance.now());
  await queue.publish([{ lane: "critical", body: job("critical", i, id) }]);
  await sleep(10);
}
while (latencies.length < CRITICAL) await sleep(10);
const backlogLeft = (await queue.stats()).lanes.low;
await worker.stop();

const sorted = [...latencies].sort((a, b) => a - b);
const pick = (p: number) =>
  Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 10) / 10;
const report = {
  date: new Date().toISOString(),
  machine: machineDescription(),
  scenario: "critical latency during a low backlog",
  settings: { backlog: BACKLOG, critical: CRITICAL, concurrency: 50 },
  results: { p50_ms: pick(0.5), p99_ms: pick(0.99), max_ms: pick(1), low_backlog_left: backlogLeft },
};
if (args.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`${report.date}  ${report.machine}  backlog=${BACKLOG} low, ${CRITICAL} critical`);
  console.log(
    `critical publish → provider: p50 ${report.results.p50_ms} ms, p99 ${report.results.p99_ms} ms, max ${report.results.max_ms} ms (target p99 ≤ ${TARGETS.criticalP99Ms} ms)`,
  );
  console.log(`low jobs still waiting when the last critical one went out: ${backlogLeft}`);
}
