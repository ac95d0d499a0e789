import { afterEach, describe, expect, it } from "vitest";
import { outgoingEmails } from "../../../test/outgoing-email.ts";
import { type SmtpSink, startSmtpSink } from "../../../test/smtp-sink.ts";
import { SmtpProvider } from "./smtp-provider.ts";

const sinks: SmtpSink[] = [];
const providers: SmtpProvider[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) await p.close();
  for (const s of sinks.splice(0)) await s.close();
});

async function setup(returnPath: { returnPath?: string; verp?: boolean }) {
  const sink = await startSmtpSink();
  sinks.push(sink);
  const provider = new SmtpProvider({
    host: "127.0.0.1",
    port: sink.port,
    useTls: false,
    accounts: [],
    sender: { email: "noreply@shop.example", name: "Shop" },
    poolSize: 1,
    timeoutMs: 5_000,
    ...returnPath,
  });
  providers.push(provider);
  return { sink, provider };
}

const email = outgoingEmails({
  job_type: "order_shipped",
  subject: "Your order has shipped",
  text: "On its way",
  headers: {},
  attachments: [],
});

describe("the SMTP envelope sender (MAIL FROM)", () => {
  it("is the From address when no return path is configured", async () => {
    const { sink, provider } = await setup({});
    await provider.send(email("ada@example.org", { from: { email: "orders@shop.example" } }));
    expect(sink.messages[0]?.from).toBe("orders@shop.example");
    expect(sink.messages[0]?.header("from")).toContain("orders@shop.example");
  });

  it("is the return path, while the From header stays the sender", async () => {
    const { sink, provider } = await setup({ returnPath: "bounces@bounces.shop.example" });
    await provider.send(email("ada@example.org"));
    expect(sink.messages[0]?.from).toBe("bounces@bounces.shop.example");
    expect(sink.messages[0]?.header("from")).toContain("noreply@shop.example");
  });

  it("with VERP names each message's job in the return path's local part", async () => {
    const { sink, provider } = await setup({ returnPath: "bounces@bounces.shop.example", verp: true });
    const first = email("ada@example.org");
    const second = email("grace@example.org");
    await provider.send(first);
    await provider.send(second);
    expect(sink.messages.map((m) => m.from)).toEqual([
      `bounces+${first.job_id}@bounces.shop.example`,
      `bounces+${second.job_id}@bounces.shop.example`,
    ]);
  });
});
