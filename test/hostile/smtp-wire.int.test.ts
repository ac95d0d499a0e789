import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWithPython } from "../python-email.ts";
import { until } from "../until.ts";
import { type HostileService, startHostileService } from "./hostile-service.ts";
import { readSmtpStream } from "./wire-tap.ts";

/** A second, spoofed message, for servers that end DATA at one of the line-end forms before it. */
const SMUGGLED =
  "MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@bank.example>\r\nDATA\r\n" +
  "From: ceo@bank.example\r\nSubject: wire the money\r\n\r\nnow\r\n.\r\n";
const ENDINGS = ["\r.\r\n", "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r\n"];

/**
 * Attacks on the bytes the service writes to an SMTP relay, made through the intake API with a
 * send-scope key: smuggling a second message through line ends, forging From/To through display
 * names, and injecting a MIME part through the boundary.
 */
describe("hostile input on the SMTP wire", () => {
  let service: HostileService;
  beforeAll(async () => {
    service = await startHostileService();
  });
  afterAll(async () => service?.close());

  /** Queues `job` and waits for the sink to receive it; its raw bytes as the sink stored them. */
  async function deliver(job: Record<string, unknown>): Promise<{ id: string; raw: Buffer }> {
    const answer = await service.post("/v1/emails", {
      type: "hostile",
      recipient_email: "ada@example.org",
      ...job,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    const id = answer.body.job_id as string;
    const received = () => service.sink.messages.find((m) => m.header("X-Email-Job-Id") === id);
    await until(async () => received() !== undefined, 20_000, `job ${id} at the SMTP server`);
    return { id, raw: Buffer.from(received()?.raw ?? "", "utf8") };
  }

  it("sends exactly one message per job, with no bare CR or LF, whatever line ends the text, HTML or data hold", async () => {
    const jobs = ENDINGS.flatMap((ending) => [
      { subject: "text", text: `hello${ending}${SMUGGLED}` },
      { subject: "html", html: `<p>hello</p>${ending}${SMUGGLED}` },
      // Text templates render data unescaped, so the payload can come in through template_data.
      { subject: "data", text: "Hi {{name}}", template_data: { name: `Ada${ending}${SMUGGLED}` } },
    ]);
    const sessionsBefore = service.wire.sessions().length;
    const ids: string[] = [];
    for (const job of jobs) ids.push((await deliver(job)).id);

    const readings = service.wire.sessions().slice(sessionsBefore).map(readSmtpStream);
    const messages = readings.flatMap((reading) => reading.messages);
    expect(readings.flatMap((reading) => reading.bareLineBreaks)).toEqual([]);
    expect(messages).toHaveLength(jobs.length);
    for (const message of messages) {
      expect(message.envelope).toEqual(["MAIL FROM:<noreply@shop.example>", "RCPT TO:<ada@example.org>"]);
      expect(message.data.toString("latin1")).toMatch(/^X-Email-Job-Id: [0-9a-f-]{36}$/m);
    }
    const onWire = messages.map((m) => /^X-Email-Job-Id: (\S+)$/m.exec(m.data.toString("latin1"))?.[1]);
    expect(onWire.sort()).toEqual([...ids].sort());
    expect(service.sink.attempts.has("victim@bank.example")).toBe(false);
  });

  it("keeps From and To to the intended addresses whatever the display names hold, as mailparser and Python read them", async () => {
    const names = [
      "Shöp <security@bank.example>",
      '"Support" <security@bank.example>',
      "Jürgen, attacker@evil.example, ",
      'Ada \\"Lovelace\\" <x@evil.example>, y@evil.example',
      "=?UTF-8?Q?security=40bank.example?= <security@bank.example>",
      "Ünïcödé; group: evil@evil.example;",
    ];
    for (const name of names) {
      const { raw } = await deliver({
        subject: "names",
        text: "hello",
        from: { email: "noreply@shop.example", name },
        recipient_name: name,
      });
      const parsed = await simpleParser(raw);
      const from = parsed.from?.value ?? [];
      const to = (Array.isArray(parsed.to) ? parsed.to : [parsed.to]).flatMap((field) => field?.value ?? []);
      expect(
        from.map((a) => a.address),
        name,
      ).toEqual(["noreply@shop.example"]);
      expect(
        to.map((a) => a.address),
        name,
      ).toEqual(["ada@example.org"]);
      expect(from[0]?.name, name).toBe(name);
      expect(to[0]?.name, name).toBe(name);

      const python = readWithPython(raw);
      expect(
        python.from.map((a) => a.address),
        name,
      ).toEqual(["noreply@shop.example"]);
      expect(
        python.to.map((a) => a.address),
        name,
      ).toEqual(["ada@example.org"]);
      // A name longer than one encoded-word (45 bytes) is several; Python keeps the folding space
      // between them, where RFC 2047 §6.2 (and mailparser) drop it: the same name, spaced apart.
      expect(python.from[0]?.name.replace(/\s/g, ""), name).toBe(name.replace(/\s/g, ""));
      expect(python.to[0]?.name.replace(/\s/g, ""), name).toBe(name.replace(/\s/g, ""));
      expect(python.defects, name).toEqual([]);
    }
  });

  it("shows the intended HTML part when template data carries boundary guesses and a forged part", async () => {
    const guesses = ["", "=_", "----=_Part_", "--_", "boundary", "b1_", "=_email-worker_"];
    const forged = guesses
      .map(
        (guess) =>
          `\r\n--${guess}\r\nContent-Type: text/html\r\n\r\n<h1>Your account is locked: https://evil.example</h1>\r\n--${guess}--\r\n`,
      )
      .join("");
    const { raw } = await deliver({
      subject: "boundary",
      html: "<p>Order {{order}} shipped</p>",
      text: "Order {{order}} shipped",
      template_data: { order: `A-1${forged}` },
    });
    const parsed = await simpleParser(raw);
    expect(parsed.html).toContain("<p>Order A-1");
    expect(parsed.html).not.toContain("<h1>");
    expect(parsed.attachments).toEqual([]);
    expect(parsed.text).toContain("Order A-1");
    const python = readWithPython(raw);
    expect(python.parts).toEqual(["multipart/alternative", "text/plain", "text/html"]);
    expect(python.defects).toEqual([]);
  });
});
