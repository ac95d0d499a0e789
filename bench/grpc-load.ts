// The API bench's load generator, run as a process of its own (bench/api-load.ts starts it): sends a
// booking service's email — a job type, a template id and its data — to our SendEmail over gRPC or to
// the peer's JSON POST over keep-alive HTTP, and prints one JSON line of results at the end.
//
//   node bench/grpc-load.ts --mode grpc|http --target host:port (--rate N | --connections N)
//     [--seconds 20] [--warmup 3] [--channels 1]        (BENCH_API_KEY: the gRPC API key, if any)
//
// Open loop (--rate): requests go out on a fixed schedule whatever the replies, and each latency runs
// from the time the request was due, not sent, so that a stall counts against every request it
// delayed (no coordinated omission). Closed loop (--connections without --rate): that many requests
// always outstanding, for the most the server answers. Requests are encoded before the clock starts,
// so that the generator spends its time sending.
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import {
  EmailWorkerServiceService,
  Priority,
  SendEmailRequest,
} from "../internal/gen/emailworker/v1/email_worker.ts";
import { BENCH_TEMPLATE, templateData } from "./workload.ts";

/** What the generator prints: the measured window's figures (after the warm-up) and the whole run's counts. */
export interface LoadResult {
  mode: "grpc" | "http";
  loop: "open" | "closed";
  /** Requests per second scheduled (open loop); 0 in a closed loop. */
  target_rate: number;
  /** Requests outstanding at once (closed loop); the most HTTP sockets in either. */
  connections: number;
  /** HTTP/2 connections (gRPC channels); 0 over HTTP. */
  channels: number;
  /** Every request answered OK, warm-up included: what the queue should now hold from this run. */
  ok_total: number;
  errors_total: number;
  first_error: string | null;
  /** OK answers to requests sent in the measured window, per second of it (until the last answer). */
  achieved_rps: number;
  measured_ok: number;
  measured_errors: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Open loop: how far behind its schedule the generator itself sent, at the 99th percentile and at worst. */
  p99_send_lag_ms: number;
  max_send_lag_ms: number;
  /** The generator's own CPU (user + system) over the run, per 1,000 requests and as a share of one core. */
  generator_cpu_ms_per_1000: number;
  generator_cpu_percent: number;
  /** The run's wall time, warm-up included. */
  wall_seconds: number;
}

/** A request pool this size is cycled through: distinct recipients without encoding on the clock. */
const POOL = 1_000;
const DEADLINE_MS = 10_000;
const SEND_EMAIL_PATH = EmailWorkerServiceService.sendEmail.path;

type Send = (done: (error: string | null) => void) => void;

function options() {
  const { values } = parseArgs({
    options: {
      mode: { type: "string" },
      target: { type: "string" },
      rate: { type: "string", default: "0" },
      connections: { type: "string", default: "64" },
      seconds: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      channels: { type: "string", default: "1" },
    },
  });
  const mode = values.mode;
  if (mode !== "grpc" && mode !== "http") throw new Error(`--mode takes grpc or http, not ${mode}`);
  if (!values.target) throw new Error("--target host:port is required");
  const number = (name: keyof typeof values, min: number) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min}`);
    return value;
  };
  return {
    mode,
    target: values.target,
    rate: number("rate", 0),
    connections: number("connections", 1),
    seconds: number("seconds", 1),
    warmup: number("warmup", 0),
    channels: number("channels", 1),
  } as const;
}

/** The job a booking service sends on confirming booking `n`. */
function bookingJob(n: number) {
  return {
    type: "booking_confirmation",
    recipient_email: `guest${n}@example.org`,
    recipient_name: `Guest ${n}`,
    template_id: BENCH_TEMPLATE.id,
    template_data: templateData(n),
  };
}

/** SendEmail over `channels` HTTP/2 connections, round robin; the reply is not decoded (OK is enough). */
function grpcSender(target: string, channels: number): { send: Send; close: () => void } {
  const clients = Array.from(
    { length: channels },
    // A local subchannel pool each, or grpc-js shares one connection between channels to one target.
    () => new Client(target, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
  );
  const bodies = Array.from({ length: POOL }, (_, n) =>
    Buffer.from(
      SendEmailRequest.encode(
        SendEmailRequest.fromPartial({ job: { ...bookingJob(n), priority: Priority.PRIORITY_NORMAL } }),
      ).finish(),
    ),
  );
  const apiKey = process.env.BENCH_API_KEY;
  const identity = (buffer: Buffer) => buffer;
  let next = 0;
  return {
    send(done) {
      const n = next++;
      const metadata = new Metadata();
      if (apiKey) metadata.set("x-api-key", apiKey);
      (clients[n % channels] as Client).makeUnaryRequest(
        SEND_EMAIL_PATH,
        identity,
        identity,
        bodies[n % POOL] as Buffer,
        metadata,
        { deadline: Date.now() + DEADLINE_MS },
        (error) => done(error ? `${error.code} ${error.details}` : null),
      );
    },
    close: () => {
      for (const client of clients) client.close();
    },
  };
}

/** The peer's JSON POST over keep-alive HTTP/1.1, at most `sockets` connections. */
function httpSender(target: string, sockets: number): { send: Send; close: () => void } {
  const [host, port] = target.split(":");
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const bodies = Array.from({ length: POOL }, (_, n) => Buffer.from(JSON.stringify(bookingJob(n))));
  let next = 0;
  return {
    send(answered) {
      const body = bodies[next++ % POOL] as Buffer;
      // A socket can fail after its response ended: each request is answered once.
      let pending = true;
      const done = (error: string | null) => {
        if (pending) answered(error);
        pending = false;
      };
      const req = request(
        {
          host,
          port: Number(port),
          method: "POST",
          path: "/emails",
          agent,
          timeout: DEADLINE_MS,
          headers: { "content-type": "application/json", "content-length": body.length },
        },
        (res) => {
          res.resume();
          res.on("error", (error) => done(error.message));
          res.on("end", () => done(res.statusCode === 202 ? null : `HTTP ${res.statusCode}`));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (error) => done(error.message));
      req.end(body);
    },
    close: () => agent.destroy(),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (value: number) => Number(value.toFixed(2));

async function run(): Promise<LoadResult> {
  const opts = options();
  const open = opts.rate > 0;
  const sender =
    opts.mode === "grpc" ? grpcSender(opts.target, opts.channels) : httpSender(opts.target, opts.connections);
  const latencies: number[] = [];
  let okTotal = 0;
  let errorsTotal = 0;
  let measuredErrors = 0;
  let firstError: string | null = null;
  let lastAnswer = 0;
  const sendLags: number[] = [];
  const cpuBefore = process.cpuUsage();
  const start = performance.now() + 20;
  const measureFrom = start + opts.warmup * 1000;
  const end = measureFrom + opts.seconds * 1000;

  /** Sends one request; `from` is when it was due (open) or sent (closed). */
  const send = (from: number, answered?: () => void) =>
    sender.send((error) => {
      const now = performance.now();
      const measured = from >= measureFrom && from < end;
      if (error === null) {
        okTotal++;
        if (measured) {
          latencies.push(now - from);
          lastAnswer = now;
        }
      } else {
        errorsTotal++;
        firstError ??= error;
        if (measured) measuredErrors++;
      }
      answered?.();
    });

  await new Promise<void>((resolve) => {
    let outstanding = 0;
    let scheduling = true;
    const settle = () => {
      if (--outstanding === 0 && !scheduling) resolve();
    };
    if (open) {
      const interval = 1000 / opts.rate;
      const total = Math.floor(((end - start) / 1000) * opts.rate);
      let i = 0;
      const tick = () => {
        const now = performance.now();
        for (; i < total && start + i * interval <= now; i++) {
          const due = start + i * interval;
          if (due >= measureFrom) sendLags.push(now - due);
          outstanding++;
          send(due, settle);
        }
        if (i < total) setTimeout(tick, 1);
        else {
          scheduling = false;
          if (outstanding === 0) resolve();
        }
      };
      setTimeout(tick, Math.max(0, start - performance.now()));
    } else {
      let loops = opts.connections;
      const loop = () => {
        const now = performance.now();
        if (now >= end) {
          if (--loops === 0) {
            scheduling = false;
            if (outstanding === 0) resolve();
          }
          return;
        }
        outstanding++;
        send(now, () => {
          settle();
          loop();
        });
      };
      for (let c = 0; c < opts.connections; c++) loop();
    }
  });

  const wall = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  sender.close();
  const sorted = Float64Array.from(latencies).sort();
  const lags = Float64Array.from(sendLags).sort();
  const window = (Math.max(lastAnswer, end) - measureFrom) / 1000;
  return {
    mode: opts.mode,
    loop: open ? "open" : "closed",
    target_rate: opts.rate,
    connections: opts.connections,
    channels: opts.mode === "grpc" ? opts.channels : 0,
    ok_total: okTotal,
    errors_total: errorsTotal,
    first_error: firstError,
    achieved_rps: Math.round(latencies.length / window),
    measured_ok: latencies.length,
    measured_errors: measuredErrors,
    p50_ms: round(percentile(sorted, 50)),
    p90_ms: round(percentile(sorted, 90)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(sorted.at(-1) ?? 0),
    p99_send_lag_ms: round(percentile(lags, 99)),
    max_send_lag_ms: round(lags.at(-1) ?? 0),
    generator_cpu_ms_per_1000: Math.round((cpuMs * 1000) / Math.max(1, okTotal + errorsTotal)),
    generator_cpu_percent: Math.round((cpuMs / 1000 / wall) * 100),
    wall_seconds: round(wall),
  };
}

process.stdout.write(`${JSON.stringify(await run())}\n`);
