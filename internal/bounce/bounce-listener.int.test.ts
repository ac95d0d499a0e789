import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { openMigratedRouter, silentLogger } from "../../test/store.ts";
import { SmtpConnection, type SmtpError } from "../provider/smtp/smtp-connection.ts";
import type { DatabaseRouter } from "../store/database-router.ts";
import { JobRepository } from "../store/job-repository.ts";
import { SuppressionRepository } from "../store/suppression-repository.ts";
import { TrackingRepository } from "../store/tracking-repository.ts";
import { UnattributedBounceRepository } from "../store/unattributed-bounce-repository.ts";
import { EventRecorder } from "../tracking/event-recorder.ts";
import { BounceIntake, type BounceOutcome } from "./bounce-intake.ts";
import { BounceListener } from "./bounce-listener.ts";
import { ReturnPath } from "./return-path.ts";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const returnPath = new ReturnPath("bounces@bounces.shop.example");
/** The job the Postfix fixtures bounce. */
const jobId = "0b5a3c1e-7d2f-4c7a-9e31-5f8b2d6a4c10";
const verp = `bounces+${jobId}@bounces.shop.example`;
const MAX_BYTES = 64 * 1024;

function startListener(router: DatabaseRouter, outcomes: BounceOutcome[]): BounceListener {
  const intake = new BounceIntake({
    returnPath,
    recorder: new EventRecorder({
      jobs: new JobRepository(router),
      tracking: new TrackingRepository(router),
      suppressions: new SuppressionRepository(router),
      logger: silentLogger,
    }),
    kept: new UnattributedBounceRepository(router),
    logger: silentLogger,
    onOutcome: (outcome) => outcomes.push(outcome),
  });
  return new BounceListener({
    host: "127.0.0.1",
    port: 0,
    returnPath,
    intake,
    maxMessageBytes: MAX_BYTES,
    logger: silentLogger,
  });
}

/** Sends as a reporting MTA does: null reverse-path, one session per message. */
async function deliver(port: number, to: string, message: Buffer): Promise<void> {
  const connection = await SmtpConnection.open({
    host: "127.0.0.1",
    port,
    secure: false,
    requireTLS: false,
    ignoreTLS: true,
    timeoutMs: 5_000,
  });
  try {
    await connection.send({ from: "", to: [to] }, message);
  } finally {
    connection.close();
  }
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as SmtpError,
  );

describe("BounceListener over SMTP, recording into PostgreSQL", () => {
  let database: TestDatabase;
  let router: DatabaseRouter;
  let listener: BounceListener;
  let port: number;
  const outcomes: BounceOutcome[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url });
    await new JobRepository(router).create({
      id: jobId,
      job_type: "order_shipped",
      recipient_email: "nobody@example.org",
      subject: "Your order has shipped",
    });
    listener = startListener(router, outcomes);
    port = await listener.start();
  });
  afterAll(async () => {
    await listener?.stop();
    await router?.destroy();
    await database?.drop();
  });

  const trackingEvents = () => new TrackingRepository(router).listForJob(jobId);
  const suppressed = (email: string) => new SuppressionRepository(router).find(email);
  const kept = () => new UnattributedBounceRepository(router).list();

  it("records a hard bounce as the tracked job's bounced event and suppresses the address", async () => {
    await deliver(port, verp, fixture("postfix-rfc3464.eml"));
    const events = await trackingEvents();
    expect(events).toEqual([
      expect.objectContaining({
        provider: "smtp",
        status: "bounced_hard",
        message_id: `<${jobId}@shop.example>`,
        error_message: expect.stringContaining("5.1.1"),
      }),
    ]);
    expect(await suppressed("nobody@example.org")).toMatchObject({ reason: "hard_bounce", source: "smtp" });
    expect(outcomes.at(-1)).toBe("recorded");
  });

  it("records a DSN sent again once", async () => {
    await deliver(port, verp, fixture("postfix-rfc3464.eml"));
    const hard = (await trackingEvents()).filter((event) => event.status === "bounced_hard");
    expect(hard).toHaveLength(1);
    expect(outcomes.at(-1)).toBe("duplicate");
  });

  it("records a delayed (4.x.x) report as a soft bounce without suppressing the address", async () => {
    await deliver(port, verp, fixture("postfix-delayed.eml"));
    expect((await trackingEvents()).map((event) => event.status)).toEqual(["bounced_hard", "bounced_soft"]);
    expect(await suppressed("slow@example.net")).toBeUndefined();
  });

  it("keeps a message it cannot read as a bounce, with its envelope and the reason", async () => {
    await deliver(port, "bounces@bounces.shop.example", fixture("garbage.eml"));
    expect(outcomes.at(-1)).toBe("not_a_bounce");
    const [row] = await kept();
    expect(row).toMatchObject({
      reason: "not_a_bounce",
      mail_from: null,
      rcpt_to: "bounces@bounces.shop.example",
      remote_address: expect.stringContaining("127.0.0.1"),
    });
    expect(Buffer.from(row?.raw ?? []).toString("latin1")).toContain("not a message at all");
  });

  it("keeps a bounce that names no job, without suppressing anyone on its word", async () => {
    const orphan = Buffer.from(
      [
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>",
        "To: bounces@bounces.shop.example",
        "Subject: Undelivered Mail Returned to Sender",
        "",
        "<victim@example.org>: host mx.example.org said: 550 5.1.1 User unknown",
        "",
      ].join("\r\n"),
    );
    await deliver(port, "bounces@bounces.shop.example", orphan);
    expect(outcomes.at(-1)).toBe("no_job");
    const [row] = await kept();
    expect(row).toMatchObject({
      reason: "no_job",
      details: expect.stringContaining("victim@example.org: 5.1.1"),
    });
    expect(await suppressed("victim@example.org")).toBeUndefined();
  });

  it("refuses a recipient outside the return path with 550: it relays nothing", async () => {
    const failure = await refusal(deliver(port, "someone@example.com", fixture("postfix-rfc3464.eml")));
    expect(failure?.responseCode).toBe(550);
    const other = await refusal(deliver(port, "ceo@bounces.shop.example", fixture("postfix-rfc3464.eml")));
    expect(other?.responseCode).toBe(550);
  });

  it("refuses a message larger than its SIZE with 552, and stores nothing of it", async () => {
    const before = (await kept()).length;
    const huge = Buffer.concat([fixture("auto-reply.eml"), Buffer.alloc(MAX_BYTES + 1024, "x\r\n")]);
    const failure = await refusal(deliver(port, "bounces@bounces.shop.example", huge));
    expect(failure?.responseCode).toBe(552);
    expect((await kept()).length).toBe(before);
  });

  it("answers 451 when the database cannot store the bounce, so the reporting MTA tries again", async () => {
    const down = await openMigratedRouter({ DATABASE_URL: database.url });
    await down.destroy();
    const unstored = startListener(down, []);
    const unstoredPort = await unstored.start();
    try {
      const failure = await refusal(deliver(unstoredPort, verp, fixture("postfix-rfc3464.eml")));
      expect(failure?.responseCode).toBe(451);
    } finally {
      await unstored.stop();
    }
  });
});
