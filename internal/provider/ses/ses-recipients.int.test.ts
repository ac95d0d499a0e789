import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outgoingEmails } from "../../../test/outgoing-email.ts";
import { type SesEmulator, startSesEmulator } from "../../../test/ses-emulator.ts";
import { SesProvider } from "./ses-provider.ts";

interface SendEmailBody {
  Destination?: { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] };
  EmailTags?: { Name: string; Value: string }[];
  Content?: { Raw?: { Data: string } };
}

interface StoredEmail {
  destination: { to: string[]; cc: string[]; bcc: string[] };
}

/**
 * Passes every request on to the emulator unchanged and keeps the SendEmail bodies: the emulator
 * stores the message, not the tags, nor a Raw message's Destination.
 */
async function recordingProxy(
  target: string,
): Promise<{ url: string; bodies: SendEmailBody[]; server: Server }> {
  const bodies: SendEmailBody[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (req.url?.includes("/outbound-emails")) bodies.push(JSON.parse(body.toString()) as SendEmailBody);
    const forwarded = request(
      `${target}${req.url}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, server };
}

const email = outgoingEmails({
  job_type: "payment_receipt",
  subject: "Your receipt",
  text: "Paid",
  headers: {},
  attachments: [],
});

const pdf = [
  { filename: "r.pdf", content: Buffer.from("%PDF").toString("base64"), content_type: "application/pdf" },
];

describe("SesProvider with Cc, Bcc and tags (the real SES v2 client and the SES emulator)", () => {
  let emulator: SesEmulator;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let provider: SesProvider;

  beforeAll(async () => {
    emulator = await startSesEmulator();
    proxy = await recordingProxy(emulator.url);
    provider = new SesProvider({
      region: "us-east-1",
      accessKeyId: "AKIAFAKEFORTESTS",
      secretAccessKey: "fake-secret-for-tests",
      endpoint: proxy.url,
      sender: { email: "noreply@example.com" },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    await provider?.close();
    await new Promise((resolve) => proxy?.server.close(resolve));
    await emulator?.close();
  });

  const stored = async (): Promise<StoredEmail[]> =>
    ((await (await fetch(`${emulator.url}/store`)).json()) as { emails: StoredEmail[] }).emails;

  it("lists Cc and Bcc in the Destination of simple content", async () => {
    await provider.send(
      email("ada@example.org", { cc: [{ email: "bob@example.org" }], bcc: [{ email: "audit@example.org" }] }),
    );
    expect(proxy.bodies.at(-1)?.Destination).toEqual({
      ToAddresses: ['"Ada Lovelace" <ada@example.org>'],
      CcAddresses: ["bob@example.org"],
      BccAddresses: ["audit@example.org"],
    });
    expect((await stored()).at(-1)?.destination).toEqual({
      to: ['"Ada Lovelace" <ada@example.org>'],
      cc: ["bob@example.org"],
      bcc: ["audit@example.org"],
    });
  });

  it("lists every recipient in the Destination of raw content, whose message names Cc and not Bcc", async () => {
    await provider.send(
      email("ada@example.org", {
        attachments: pdf,
        cc: [{ email: "bob@example.org" }],
        bcc: [{ email: "audit@example.org" }],
      }),
    );
    const body = proxy.bodies.at(-1);
    expect(body?.Destination).toMatchObject({
      CcAddresses: ["bob@example.org"],
      BccAddresses: ["audit@example.org"],
    });
    const raw = Buffer.from(body?.Content?.Raw?.Data ?? "", "base64");
    const parsed = await simpleParser(raw);
    expect(parsed.cc).toMatchObject({ value: [{ address: "bob@example.org" }] });
    expect(parsed.bcc).toBeUndefined();
    expect(raw.toString()).not.toContain("audit@example.org");
  });

  it("sends each tag as a tag_<name> message tag beside job_id and job_type", async () => {
    const out = email("ada@example.org", { tags: ["spring", "eu:west", "eu.west"] });
    await provider.send(out);
    expect(proxy.bodies.at(-1)?.EmailTags).toEqual([
      { Name: "job_id", Value: out.job_id },
      { Name: "job_type", Value: "payment_receipt" },
      { Name: "tag_spring", Value: "true" },
      // Both become eu_west in SES's alphabet: one tag.
      { Name: "tag_eu_west", Value: "true" },
    ]);
  });
});
