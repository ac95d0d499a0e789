import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryFailure, outgoingEmails } from "../../../test/outgoing-email.ts";
import { type SesEmulator, startSesEmulator } from "../../../test/ses-emulator.ts";
import { SesProvider } from "./ses-provider.ts";

interface StoredEmail {
  from: string;
  destination: { to: string[] };
  subject: string;
  body: { text?: string; html?: string };
  attachments?: { filename: string }[];
}

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

const email = outgoingEmails({
  job_type: "payment_receipt",
  subject: "Your receipt",
  html: "<p>Paid</p>",
  text: "Paid",
  headers: { "X-Order": "A-1" },
  attachments: [],
});

describe("SesProvider with the real SES v2 client", () => {
  let emulator: SesEmulator;
  let emulatorUrl: string;
  let errors: Server;
  let errorsUrl: string;
  const provider = (endpoint: string) =>
    new SesProvider({
      region: "us-east-1",
      accessKeyId: "AKIAFAKEFORTESTS",
      secretAccessKey: "fake-secret-for-tests",
      endpoint,
      configurationSet: "transactional",
      sender: { email: "noreply@example.com", name: "Payments" },
      maxAttempts: 1,
    });

  beforeAll(async () => {
    emulator = await startSesEmulator();
    emulatorUrl = emulator.url;
    // Answers the way SES does when it refuses, chosen by the recipient's local part.
    errors = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as {
        Destination?: { ToAddresses?: string[] };
      };
      const to = body.Destination?.ToAddresses?.[0] ?? "";
      const local = to.replace(/^.*</, "").split("@")[0] ?? "";
      const [status, type] =
        local === "throttled"
          ? [429, "TooManyRequestsException"]
          : local === "rejected"
            ? [400, "MessageRejected"]
            : local === "suspended"
              ? [400, "AccountSuspendedException"]
              : [500, "InternalFailure"];
      res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
      res.end(JSON.stringify({ message: `${type} for ${to}` }));
    });
    errorsUrl = await listen(errors);
  });

  afterAll(async () => {
    await emulator?.close();
    await new Promise((resolve) => errors?.close(resolve));
  });

  const stored = async (): Promise<StoredEmail[]> =>
    ((await (await fetch(`${emulatorUrl}/store`)).json()) as { emails: StoredEmail[] }).emails;

  it("sends simple content and reports SES's message id", async () => {
    const result = await provider(emulatorUrl).send(email("ada@example.org"));
    expect(result.provider).toBe("ses");
    expect(result.message_id).toMatch(/\S+/);
    const last = (await stored()).at(-1);
    expect(last).toMatchObject({
      subject: "Your receipt",
      body: { text: "Paid", html: "<p>Paid</p>" },
      destination: { to: ['"Ada Lovelace" <ada@example.org>'] },
    });
    expect(last?.from).toContain("noreply@example.com");
  });

  it("sends raw MIME when there are attachments", async () => {
    await provider(emulatorUrl).send(
      email("bob@example.org", {
        attachments: [
          {
            filename: "receipt.pdf",
            content: Buffer.from("%PDF").toString("base64"),
            content_type: "application/pdf",
          },
        ],
      }),
    );
    const last = (await stored()).at(-1);
    expect(last?.subject).toBe("Your receipt");
    expect(last?.attachments?.map((a) => a.filename)).toEqual(["receipt.pdf"]);
  });

  it("classifies SES's refusals", async () => {
    const ses = provider(errorsUrl);
    expect(await deliveryFailure(ses.send(email("throttled@example.org")))).toMatchObject({
      kind: "throttled",
    });
    const rejected = await deliveryFailure(ses.send(email("rejected@example.org")));
    expect(rejected).toMatchObject({ kind: "permanent", code: "ses_MessageRejected" });
    expect(rejected?.message).not.toContain("rejected@example.org");
    expect(await deliveryFailure(ses.send(email("suspended@example.org")))).toMatchObject({ kind: "config" });
    expect(await deliveryFailure(ses.send(email("broken@example.org")))).toMatchObject({ kind: "transient" });
  });

  it("verifies credentials and account with GetAccount, and fails the check when SES is unreachable", async () => {
    await expect(provider(emulatorUrl).verify(AbortSignal.timeout(5_000))).resolves.toBe(
      "us-east-1: sending enabled (sandbox: verified recipients only)",
    );
    await expect(provider("http://127.0.0.1:1").verify(AbortSignal.timeout(5_000))).rejects.toMatchObject({
      kind: "transient",
    });
  });

  it("treats an unreachable endpoint as transient", async () => {
    expect(await deliveryFailure(provider("http://127.0.0.1:1").send(email("a@example.org")))).toMatchObject({
      kind: "transient",
    });
  });
});
