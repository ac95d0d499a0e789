import { afterEach, describe, expect, it } from "vitest";
import { deliveryFailure, outgoingEmails } from "../../../test/outgoing-email.ts";
import { loopbackSmtpProvider } from "../../../test/providers.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../../../test/smtp-sink.ts";
import type { SmtpProvider } from "./smtp-provider.ts";

const sinks: SmtpSink[] = [];
const providers: SmtpProvider[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) await p.close();
  for (const s of sinks.splice(0)) await s.close();
});

async function setup(options: SmtpSinkOptions = {}) {
  const sink = await startSmtpSink(options);
  sinks.push(sink);
  const provider = loopbackSmtpProvider(sink.port, { poolSize: 1 });
  providers.push(provider);
  return { sink, provider };
}

const email = outgoingEmails({
  job_type: "invoice",
  subject: "Your invoice",
  text: "Attached.",
  headers: {},
  attachments: [],
});

describe.each([
  ["with PIPELINING", {}],
  ["without PIPELINING", { server: { hidePIPELINING: true } }],
])("SmtpProvider with Cc and Bcc recipients (%s)", (_, sinkOptions) => {
  it("sends one message to To, Cc and Bcc, naming Cc in its header and Bcc nowhere", async () => {
    const { sink, provider } = await setup(sinkOptions);
    await provider.send(
      email("ada@example.org", {
        cc: [{ email: "bob@example.org", name: "Bob" }],
        bcc: [{ email: "auditor@example.org" }, { email: "archive@example.org" }],
      }),
    );
    expect(sink.messages).toHaveLength(1);
    const [message] = sink.messages;
    expect(message?.to).toEqual([
      "ada@example.org",
      "bob@example.org",
      "auditor@example.org",
      "archive@example.org",
    ]);
    expect(message?.header("Cc")).toBe('"Bob" <bob@example.org>');
    expect(message?.raw).not.toMatch(/^bcc:/im);
    expect(message?.raw).not.toContain("auditor@example.org");
    expect(message?.raw).not.toContain("archive@example.org");
  });

  it("counts a message sent when only a Cc or Bcc recipient is refused, and reports the refused one", async () => {
    const { sink, provider } = await setup(sinkOptions);
    const result = await provider.send(
      email("ada@example.org", {
        cc: [{ email: "reject550-cc@example.org" }],
        bcc: [{ email: "eve@example.org" }],
      }),
    );
    expect(result.refused_recipients).toEqual([
      { email: "reject550-cc@example.org", reason: expect.stringContaining("550") },
    ]);
    expect(sink.messages.map((m) => m.to)).toEqual([["ada@example.org", "eve@example.org"]]);
  });

  it("sends nothing to anyone when the To recipient is refused, failing as that refusal", async () => {
    const { sink, provider } = await setup(sinkOptions);
    const failure = await deliveryFailure(
      provider.send(email("reject550-ada@example.org", { cc: [{ email: "bob@example.org" }] })),
    );
    expect(failure).toMatchObject({ kind: "permanent" });
    expect(sink.messages).toHaveLength(0);
    // The connection is usable (or replaced) for the next message.
    await provider.send(email("carol@example.org"));
    expect(sink.messages.map((m) => m.to)).toEqual([["carol@example.org"]]);
  });
});
