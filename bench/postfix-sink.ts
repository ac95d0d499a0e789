// The Node sink (smtp-server) takes mail more slowly than a fast client sends it, so a bench that
// sends into it measures the sink. Postfix's smtp-sink, in C, accepts mail and throws it away far
// faster: with it the client is what gets measured. It reports only counters, which is all a
// throughput bench needs; a bench that checks what arrived keeps the Node sink.
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../test/free-port.ts";

/** A sink in another process that counts what it accepted: this one, or the Node one (SinkProcess). */
export interface CountingSink {
  smtpPort: number;
  pid: number;
  /** Messages accepted so far: each counted once its data has ended with the dot. */
  count(): Promise<number>;
  stop(): Promise<void>;
}

const SMTP_SINK = "/usr/sbin/smtp-sink";
/** Its default greeting names it: a greeting from anything else on the port is not ours. */
const GREETING = "220 smtp-sink";
/** Pending connections the kernel queues: far more than a bench opens at once. */
const BACKLOG = 1000;

/**
 * Starts Postfix's smtp-sink on 127.0.0.1 and a free port, and resolves once it greets a client.
 * Pipelining is on (smtp-sink's default); nothing is written to disk. Rejects, with what smtp-sink
 * said, if it ends or does not answer within `readyTimeoutMs`.
 */
export async function startPostfixSink(options: { readyTimeoutMs?: number } = {}): Promise<CountingSink> {
  const port = await freePort();
  // As root, smtp-sink refuses to run until told whose privileges to drop to once it listens.
  const privileges = process.getuid?.() === 0 ? ["-u", "nobody"] : [];
  // -c: after every message (and session end) it writes "sess=N quit=N mesg=N\r" to stdout, flushed,
  // before it answers the dot; so a count read after the reply includes that message.
  // -a: no AUTH offered; it would answer AUTH with 250, which a client that has credentials rejects.
  const child = spawn(SMTP_SINK, [...privileges, "-a", "-c", `127.0.0.1:${port}`, String(BACKLOG)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let accepted = 0;
  let partialRecord = "";
  let diagnostics = "";
  let stopping = false;
  child.stdout.setEncoding("latin1").on("data", (chunk: string) => {
    const records = (partialRecord + chunk).split("\r");
    partialRecord = records.pop() ?? "";
    const last = records.at(-1);
    const mesg = last === undefined ? undefined : /\bmesg=(\d+)/.exec(last)?.[1];
    if (mesg !== undefined) accepted = Number(mesg);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    diagnostics = (diagnostics + chunk).slice(-4000);
  });
  let ended: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      ended ??= `could not start ${SMTP_SINK} (is Postfix installed?): ${error.message}`;
      resolve();
    });
    // "close", not "exit": by then all it wrote to stderr has been read.
    child.once("close", (code, signal) => {
      ended ??= `${SMTP_SINK} ended (${signal ?? `exit code ${code}`}): ${diagnostics.trim() || "(no output)"}`;
      resolve();
    });
  });
  const stop = async () => {
    stopping = true;
    if (ended === undefined) child.kill("SIGTERM");
    await exited;
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (ended !== undefined) throw new Error(`${ended} (before it listened on 127.0.0.1:${port})`);
    const greeting = await greetingAt(port);
    if (greeting?.startsWith(GREETING)) break;
    if (greeting !== undefined) {
      await stop();
      throw new Error(`127.0.0.1:${port} greets as ${JSON.stringify(greeting)}, not as smtp-sink`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${SMTP_SINK} did not answer on 127.0.0.1:${port} in time: ${diagnostics.trim()}`);
    }
    await sleep(20);
  }

  return {
    smtpPort: port,
    pid: child.pid as number,
    async count() {
      // A reply the client has just read was sent after the counter was written: a turn of the event
      // loop lets that already-waiting counter in first.
      await nextTurn();
      if (ended !== undefined && !stopping) throw new Error(ended);
      return accepted;
    },
    stop,
  };
}

/** The first line a server on `port` sends (then QUIT), or undefined when nothing accepts there yet. */
function greetingAt(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setEncoding("latin1");
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on("data", (chunk: string) => {
      received += chunk;
      const end = received.indexOf("\r\n");
      if (end < 0) return;
      socket.end("QUIT\r\n");
      resolve(received.slice(0, end));
    });
    socket.on("error", () => resolve(undefined));
    socket.on("close", () => resolve(undefined));
  });
}
