// npm run bench:campaign [-- --recipients 1000000 --untracked --rate N --lane-depth N --slice N --steps --json]
// A campaign at scale: a CSV audience of --recipients rows uploaded over HTTP (streamed) to the
// compiled service on Redis and PostgreSQL, then sent to an SMTP sink in another process. Prints
// the upload rate, the send rate, the service's peak RSS, and how long `critical` emails sent
// meanwhile took from the HTTP request to the SMTP server's acceptance, against the same emails
// with no campaign running (measured first, in the same run). --steps also times each step of the
// critical emails sent during the campaign from the service's own trace spans (tracing on, sampling
// only the traces those requests start, which costs the service some speed).
import { randomBytes, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { type ExportedSpan, startOtlpReceiver } from "../test/otlp-receiver.ts";
import { createTestDatabase } from "../test/postgres.ts";
import { startPostgresServer } from "../test/postgres-server.ts";
import { connectRedis, deleteKeys } from "../test/redis.ts";
import { startSinkProcess } from "../test/smtp-sink-process.ts";
import { machineDescription } from "./machine.ts";
import { peakRssMb, rssMb } from "./process-usage.ts";
import { startEmailWorker } from "./worker-processes.ts";

const { values: args } = parseArgs({
  options: {
    recipients: { type: "string", default: "1000000" },
    concurrency: { type: "string", default: "50" },
    "read-batch": { type: "string", default: "10" },
    /** campaign.lane_depth and campaign.slice_size; the service's defaults unless given. */
    "lane-depth": { type: "string" },
    slice: { type: "string" },
    /** The campaign's rate_limit (emails/s); 0: none. */
    rate: { type: "string", default: "0" },
    /** An untracked campaign: no job rows, outcomes on the recipients' rows. */
    untracked: { type: "boolean", default: false },
    /** Time each step of the critical emails from the service's trace spans. */
    steps: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const RECIPIENTS = Number(args.recipients);
const CONCURRENCY = Number(args.concurrency);
const READ_BATCH = Number(args["read-batch"]);
const RATE = Number(args.rate);
const TRACKED = !args.untracked;
const STEPS = args.steps;
const TARGET_RSS_MB = 150;
const TARGET_P99_MS = 50;
/** One critical email every this many ms, while idle and while the campaign runs. */
const CRITICAL_EVERY_MS = 50;
const IDLE_CRITICALS = 200;

interface CampaignView {
  id: string;
  status: string;
  counts: Record<string, number>;
  rate: number;
}

async function writeAudience(path: string): Promise<number> {
  const out = createWriteStream(path);
  out.write("email,name,city\n");
  for (let i = 0; i < RECIPIENTS; i++) {
    if (!out.write(`reader${i}@bench.example,Reader ${i},City ${i % 50}\n`))
      await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  out.end();
  await finished(out);
  return statSync(path).size;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 10) / 10;
};

const directory = mkdtempSync(join(tmpdir(), "ew-bench-campaign-"));
// A cluster of its own with PostgreSQL's defaults, autovacuum included, as production runs: a
// million jobs each updated a few times leave dead row versions that only vacuum clears.
const postgres = await startPostgresServer();
const database = await createTestDatabase("ew_bench_campaign", postgres.url);
const sink = await startSinkProcess();
const receiver = STEPS ? await startOtlpReceiver() : undefined;
const queueName = `ew-bench-campaign:${randomUUID().slice(0, 8)}`;
const worker = await startEmailWorker({
  queueName,
  databaseUrl: database.url,
  smtpPort: sink.smtpPort,
  smtpPool: 10,
  concurrency: CONCURRENCY,
  readBatch: READ_BATCH,
  env: {
    ...(args["lane-depth"] && { CAMPAIGN_LANE_DEPTH: args["lane-depth"] }),
    ...(args.slice && { CAMPAIGN_SLICE_SIZE: args.slice }),
    ...(receiver && {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // Only the traces the critical requests start: campaign jobs are not recorded.
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0",
    }),
  },
});
const base = `http://127.0.0.1:${worker.httpPort}`;

/** With --steps, the trace each critical email's request started, by email id. */
const traceOf = new Map<string, string>();

/** Critical fast-path emails, one every CRITICAL_EVERY_MS until `keepGoing` says stop; their send times by id. */
async function sendCriticals(keepGoing: (sent: number) => boolean): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>();
  while (keepGoing(sentAt.size)) {
    const id = randomUUID();
    const traceId = randomBytes(16).toString("hex");
    if (STEPS) traceOf.set(id, traceId);
    sentAt.set(id, Date.now());
    const answer = await fetch(`${base}/v1/emails`, {
      method: "POST",
      ...(STEPS && { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` } }),
      body: JSON.stringify({
        id,
        type: "password_reset",
        recipient_email: `critical-${sentAt.size}@bench.example`,
        subject: "Your code",
        text: "123456",
        priority: "critical",
      }),
    });
    if (answer.status !== 202)
      throw new Error(`critical email refused: ${answer.status} ${await answer.text()}`);
    await sleep(CRITICAL_EVERY_MS);
  }
  return sentAt;
}

/** Each critical email's time from the request to the SMTP server's acceptance. */
async function latencies(sentAt: Map<string, number>): Promise<number[]> {
  for (;;) {
    const { received_at } = await sink.stats();
    if ([...sentAt.keys()].every((id) => received_at[id] !== undefined))
      return [...sentAt].map(([id, at]) => (received_at[id] as number) - at);
    await sleep(500);
  }
}

/** Where each critical email's time went, p50 and p99 per step, from its trace's spans. */
async function criticalSteps(
  ids: Iterable<string>,
): Promise<Record<string, { p50: number; p99: number; count: number }>> {
  const wanted = new Set([...ids].map((id) => traceOf.get(id)));
  const byTrace = new Map<string, Map<string, ExportedSpan>>();
  const collect = () => {
    byTrace.clear();
    for (const span of receiver?.spans ?? []) {
      if (!wanted.has(span.traceId)) continue;
      const spans = byTrace.get(span.traceId) ?? new Map<string, ExportedSpan>();
      spans.set(span.name, span);
      byTrace.set(span.traceId, spans);
    }
    return [...byTrace.values()].filter((spans) => spans.has("email record")).length;
  };
  // Spans are exported in batches about once a second.
  for (let waited = 0; collect() < wanted.size && waited < 15_000; waited += 500) await sleep(500);
  const ms = (nanos: string) => Number(BigInt(nanos) / 1000n) / 1000;
  const steps: Record<string, number[]> = {
    "intake (request handled, job on the queue)": [],
    "queue (intake done → worker starts)": [],
    "worker before render (decode, suppression check)": [],
    render: [],
    "send (SMTP connection, then until the server accepted)": [],
  };
  const [intake, queued, beforeRender, render, send] = Object.values(steps) as number[][];
  for (const spans of byTrace.values()) {
    const post = spans.get("POST /v1/emails");
    const deliver = spans.get("email deliver");
    const rendered = spans.get("email render");
    const sent = spans.get("email send");
    if (!post || !deliver || !rendered || !sent) continue;
    intake?.push(ms(post.endTimeUnixNano) - ms(post.startTimeUnixNano));
    queued?.push(ms(deliver.startTimeUnixNano) - ms(post.endTimeUnixNano));
    beforeRender?.push(ms(rendered.startTimeUnixNano) - ms(deliver.startTimeUnixNano));
    render?.push(ms(rendered.endTimeUnixNano) - ms(rendered.startTimeUnixNano));
    send?.push(ms(sent.endTimeUnixNano) - ms(sent.startTimeUnixNano));
  }
  return Object.fromEntries(
    Object.entries(steps).map(([step, values]) => [
      step,
      { p50: percentile(values, 0.5), p99: percentile(values, 0.99), count: values.length },
    ]),
  );
}

try {
  const csv = join(directory, "audience.csv");
  const bytes = await writeAudience(csv);

  // Warm-up (connections opened, code compiled), then critical emails with nothing else going on:
  // the baseline.
  await latencies(await sendCriticals((sent) => sent < 20));
  const idle = await latencies(await sendCriticals((sent) => sent < IDLE_CRITICALS));
  const sinkBefore = await sink.count();

  const created = (await (
    await fetch(`${base}/v1/campaigns`, {
      method: "POST",
      body: JSON.stringify({
        name: "Bench campaign",
        type: "newsletter",
        subject: "News for {{.name}}",
        html: "<p>Hello {{.name}} in {{.city}}</p><p>{{.name}}, this week's news.</p>",
        text: "Hello {{.name}} in {{.city}}",
        ...(RATE > 0 && { rate_limit: RATE }),
        tracked: TRACKED,
      }),
    })
  ).json()) as CampaignView;
  const rssBeforeUpload = rssMb(worker.pid);
  const uploadStarted = performance.now();
  const upload = await fetch(`${base}/v1/campaigns/${created.id}/recipients`, {
    method: "POST",
    headers: { "content-type": "text/csv" },
    body: Readable.toWeb(createReadStream(csv)) as ReadableStream,
    duplex: "half",
  } as RequestInit);
  const uploaded = (await upload.json()) as { added: number; invalid: number };
  const uploadSeconds = (performance.now() - uploadStarted) / 1000;
  if (uploaded.added !== RECIPIENTS) throw new Error(`upload added ${JSON.stringify(uploaded)}`);
  const rssAfterUpload = rssMb(worker.pid);

  const sendStarted = performance.now();
  await fetch(`${base}/v1/campaigns/${created.id}/start`, { method: "POST" });
  let done = false;
  let peakRate = 0;
  const watch = (async () => {
    while (!done) {
      const campaign = (await (await fetch(`${base}/v1/campaigns/${created.id}`)).json()) as CampaignView;
      peakRate = Math.max(peakRate, campaign.rate);
      if (campaign.status === "completed") done = true;
      else await sleep(1_000);
    }
  })();
  const during = await sendCriticals(() => !done);
  await watch;
  const sendSeconds = (performance.now() - sendStarted) / 1000;
  const busy = await latencies(during);
  // The same latencies minute by minute of the send: a tail spread evenly is load, one gathered in a
  // few minutes is a stall (autovacuum, a checkpoint) the whole minute's emails waited through.
  const sentTimes = [...during.values()];
  const byMinute: { minute: number; count: number; p50: number; p99: number; max: number }[] = [];
  for (let minute = 0; ; minute++) {
    const from = (sentTimes[0] ?? 0) + minute * 60_000;
    const inMinute = busy.filter(
      (_, i) => (sentTimes[i] ?? 0) >= from && (sentTimes[i] ?? 0) < from + 60_000,
    );
    if (inMinute.length === 0) break;
    byMinute.push({
      minute,
      count: inMinute.length,
      p50: percentile(inMinute, 0.5),
      p99: percentile(inMinute, 0.99),
      max: percentile(inMinute, 1),
    });
  }
  const steps = STEPS ? await criticalSteps(during.keys()) : undefined;
  const delivered = (await sink.count()) - sinkBefore - during.size;
  // Per address: the campaign's recipients are reader<i>@bench.example, each due one email.
  const { per_recipient } = await sink.stats();
  let missing = 0;
  let sentTwice = 0;
  for (let i = 0; i < RECIPIENTS; i++) {
    const copies = per_recipient[`reader${i}@bench.example`] ?? 0;
    if (copies === 0) missing++;
    else if (copies > 1) sentTwice++;
  }

  const report = {
    date: new Date().toISOString(),
    machine: machineDescription(),
    scenario: "a campaign: CSV upload, then delivery, with critical emails meanwhile",
    settings: {
      recipients: RECIPIENTS,
      concurrency: CONCURRENCY,
      read_batch: READ_BATCH,
      rate_limit: RATE || null,
      lane_depth: args["lane-depth"] ? Number(args["lane-depth"]) : "default",
      slice_size: args.slice ? Number(args.slice) : "default",
      tracked: TRACKED,
      critical_every_ms: CRITICAL_EVERY_MS,
      steps_traced: STEPS,
    },
    results: {
      csv_mb: Math.round(bytes / 1024 / 1024),
      upload_seconds: Number(uploadSeconds.toFixed(1)),
      upload_rows_per_second: Math.round(RECIPIENTS / uploadSeconds),
      send_seconds: Number(sendSeconds.toFixed(1)),
      emails_per_second: Math.round(delivered / sendSeconds),
      campaign_rate_peak: peakRate,
      delivered,
      recipients_missing: missing,
      recipients_sent_twice: sentTwice,
      rss_mb: { before_upload: rssBeforeUpload, after_upload: rssAfterUpload, peak: peakRssMb(worker.pid) },
      critical_idle_ms: { p50: percentile(idle, 0.5), p99: percentile(idle, 0.99), count: idle.length },
      critical_during_ms: { p50: percentile(busy, 0.5), p99: percentile(busy, 0.99), count: busy.length },
      critical_during_by_minute: byMinute,
      ...(steps && { critical_steps_ms: steps }),
    },
  };
  // What the service warned about meanwhile, by message: where doubled or missing emails come from.
  const warnings = new Map<string, number>();
  for (const line of worker.output().split("\n")) {
    const message = /"msg":"([^"]*)"/.exec(line)?.[1];
    if (message) warnings.set(message, (warnings.get(message) ?? 0) + 1);
  }
  Object.assign(report.results, { service_warnings: Object.fromEntries(warnings) });
  if (args.json) console.log(JSON.stringify(report, null, 2));
  else {
    const r = report.results;
    console.log(
      `${report.date}  ${report.machine}  ${RECIPIENTS} recipients (${TRACKED ? "tracked" : "untracked"}), concurrency ${CONCURRENCY}`,
    );
    console.log(`upload: ${r.csv_mb} MB CSV in ${r.upload_seconds} s = ${r.upload_rows_per_second} rows/s`);
    console.log(
      `send:   ${r.delivered} emails in ${r.send_seconds} s = ${r.emails_per_second}/s (campaign rate peak ${r.campaign_rate_peak}/s); ` +
        `recipients missing ${r.recipients_missing}, sent twice ${r.recipients_sent_twice}`,
    );
    console.log(
      `service RSS: ${r.rss_mb.before_upload} MB before upload, ${r.rss_mb.after_upload} MB after, peak ${r.rss_mb.peak} MB (target < ${TARGET_RSS_MB} MB)`,
    );
    console.log(
      `critical request → SMTP acceptance: idle p50 ${r.critical_idle_ms.p50} / p99 ${r.critical_idle_ms.p99} ms; ` +
        `during the campaign p50 ${r.critical_during_ms.p50} / p99 ${r.critical_during_ms.p99} ms ` +
        `(${r.critical_during_ms.count} emails; target p99 ≤ ${TARGET_P99_MS} ms)`,
    );
    if (r.critical_during_by_minute.length > 1)
      console.log(
        `  p99 / max by minute of the send: ${r.critical_during_by_minute.map((m) => `${m.p99}/${m.max}`).join(", ")} ms`,
      );
    if (steps)
      for (const [step, { p50, p99 }] of Object.entries(steps))
        console.log(`  critical step: ${step}: p50 ${p50} / p99 ${p99} ms`);
    console.log(`service warnings and errors, by message: ${JSON.stringify(Object.fromEntries(warnings))}`);
  }
} finally {
  await worker.stop();
  await sink.stop();
  await receiver?.close();
  const redis = await connectRedis();
  await deleteKeys(redis, queueName);
  redis.disconnect();
  await database.drop();
  await postgres.destroy();
  rmSync(directory, { recursive: true, force: true });
}
