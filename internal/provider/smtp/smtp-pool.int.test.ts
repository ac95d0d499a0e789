import { afterEach, describe, expect, it } from "vitest";
import { type SmtpSink, startSmtpSink } from "../../../test/smtp-sink.ts";
import { SmtpPool } from "./smtp-pool.ts";

const sinks: SmtpSink[] = [];
const pools: SmtpPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
  for (const sink of sinks.splice(0)) await sink.close();
});

const message = (label: string) =>
  Buffer.from(`From: a@example.org\r\nTo: ${label}@example.org\r\nSubject: ${label}\r\n\r\n${label}\r\n`);

/** A pool of one plain connection to `sink`, closed after the test. */
function onePool(sink: SmtpSink): SmtpPool {
  const pool = new SmtpPool({
    connection: {
      host: "127.0.0.1",
      port: sink.port,
      secure: false,
      requireTLS: false,
      ignoreTLS: true,
      timeoutMs: 5_000,
    },
    size: 1,
  });
  pools.push(pool);
  return pool;
}

describe("SMTP connection pool", () => {
  it("gives a free connection to the most urgent waiting send first, in arrival order within a priority", async () => {
    // Slow enough that every send below waits for the pool's one connection.
    const sink = await startSmtpSink({ dataDelayMs: 50 });
    sinks.push(sink);
    const pool = onePool(sink);
    const send = (label: string, priority: number) =>
      pool.send(
        { from: "a@example.org", to: [`${label}@example.org`], mustAccept: `${label}@example.org` },
        message(label),
        undefined,
        priority,
      );
    const first = send("first-low", -1);
    // Let the first take the connection, then queue a campaign's worth behind it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const sends = [
      send("low-1", -1),
      send("low-2", -1),
      send("normal-1", 0),
      send("critical-1", 2),
      send("high-1", 1),
      send("critical-2", 2),
    ];
    await Promise.all([first, ...sends]);
    expect(sink.messages.map((m) => m.to[0]?.split("@")[0])).toEqual([
      "first-low",
      "critical-1",
      "critical-2",
      "high-1",
      "normal-1",
      "low-1",
      "low-2",
    ]);
  });

  it("lets a send that gives up while waiting for a connection leave the line at once, unsent, and serves the others", async () => {
    const sink = await startSmtpSink({ dataDelayMs: 300 });
    sinks.push(sink);
    const pool = onePool(sink);
    const send = (label: string, signal?: AbortSignal) =>
      pool.send(
        { from: "a@example.org", to: [`${label}@example.org`], mustAccept: `${label}@example.org` },
        message(label),
        signal,
      );
    const first = send("first");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const giveUp = new AbortController();
    const waiting = send("gives-up", giveUp.signal);
    const behind = send("behind");
    const asked = Date.now();
    giveUp.abort();
    await expect(waiting).rejects.toMatchObject({
      kind: "transient",
      code: "send_timeout",
      ambiguous: false,
    });
    // It did not wait for the connection to be free to learn it had given up.
    expect(Date.now() - asked).toBeLessThan(200);
    await Promise.all([first, behind]);
    expect(sink.messages.map((m) => m.to[0]?.split("@")[0])).toEqual(["first", "behind"]);
  });
});
