import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, type HostileService, startHostileService } from "../hostile/hostile-service.ts";
import { until } from "../until.ts";

const FROM = { address: "news@shop.example", name: "Ferienhaus Übersee" };
const REPLY_TO = { address: "help@shop.example", name: "Hilfe & Support (Ü)" };
const mailbox = (m: { address: string; name: string }) => ({ email: m.address, name: m.name });

/**
 * Every way a job reaches the wire keeps the display names it was given: a fast-path job straight
 * off the queue, a tracked job sent from its stored row, and campaign jobs made from the stored
 * campaign (tracked: rows made by SQL; untracked: whole jobs built by dispatch). The messages are
 * read back by mailparser from what the SMTP server received.
 */
describe("sender and Reply-To display names, on every path to the wire", () => {
  let service: HostileService;

  beforeAll(async () => {
    service = await startHostileService();
  }, 60_000);
  afterAll(async () => service?.close());

  async function received(recipient: string) {
    await until(
      async () => service.sink.messages.some((m) => m.to.includes(recipient)),
      30_000,
      `mail to ${recipient}`,
    );
    const message = service.sink.messages.find((m) => m.to.includes(recipient));
    const parsed = await simpleParser(message?.raw ?? "");
    return { from: parsed.from?.value, replyTo: parsed.replyTo?.value };
  }

  it.each([
    { path: "a fast-path job", tracked: false },
    { path: "a tracked job", tracked: true },
  ])("$path", async ({ tracked }) => {
    const recipient = `job-${tracked ? "tracked" : "fast"}@example.org`;
    const answer = await service.post("/v1/emails", {
      type: "names",
      recipient_email: recipient,
      subject: "Names",
      text: "Hello",
      from: mailbox(FROM),
      reply_to: mailbox(REPLY_TO),
      tracked,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    expect(await received(recipient)).toEqual({ from: [FROM], replyTo: [REPLY_TO] });
  });

  it.each([
    { path: "a tracked campaign", tracked: true },
    { path: "an untracked campaign", tracked: false },
  ])("$path", async ({ tracked }) => {
    const recipient = `campaign-${tracked ? "tracked" : "untracked"}@example.org`;
    const answer = await service.post(
      "/v1/campaigns",
      {
        name: `Names ${tracked}`,
        type: "newsletter",
        subject: "Names",
        text: "Hello",
        from: mailbox(FROM),
        reply_to: mailbox(REPLY_TO),
        tracked,
        recipients: [{ email: recipient }],
        start: true,
      },
      { "x-api-key": ADMIN_KEY },
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(await received(recipient)).toEqual({ from: [FROM], replyTo: [REPLY_TO] });
  });
});
