import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outgoingEmails } from "../../../test/outgoing-email.ts";
import type { SendGridFake } from "../../../test/sendgrid-fake.ts";
import { sendGridProviderOnFake } from "../../../test/sendgrid-provider.ts";
import type { SendGridProvider } from "./sendgrid-provider.ts";

const email = outgoingEmails({
  job_type: "newsletter",
  subject: "News",
  text: "News",
  headers: {},
  attachments: [],
});

describe("SendGridProvider with Cc, Bcc and tags", () => {
  let fake: SendGridFake;
  let provider: SendGridProvider;

  beforeAll(async () => {
    ({ fake, provider } = await sendGridProviderOnFake({ email: "noreply@example.com" }));
  });
  afterAll(async () => fake?.close());

  it("puts To, Cc and Bcc in one personalization and the tags after the job type as categories", async () => {
    await provider.send(
      email("ada@example.org", {
        cc: [{ email: "bob@example.org", name: "Bob" }],
        bcc: [{ email: "audit@example.org" }],
        tags: ["spring", "eu:west"],
      }),
    );
    const body = fake.accepted.at(-1)?.body;
    expect(body?.personalizations).toEqual([
      expect.objectContaining({
        to: [{ email: "ada@example.org", name: "Ada Lovelace" }],
        cc: [{ email: "bob@example.org", name: "Bob" }],
        bcc: [{ email: "audit@example.org" }],
      }),
    ]);
    expect(body?.categories).toEqual(["newsletter", "spring", "eu:west"]);
    expect(body?.headers ?? {}).not.toHaveProperty("Bcc");
  });

  it("stays within SendGrid's ten categories: with ten tags the job type gives way", async () => {
    const tags = Array.from({ length: 10 }, (_, i) => `t${i}`);
    await provider.send(email("ada@example.org", { tags }));
    const body = fake.accepted.at(-1)?.body;
    expect(body?.categories).toEqual(tags);
    expect(body?.custom_args).toMatchObject({ job_type: "newsletter" });
  });

  it("sends a job without Cc, Bcc or tags as before", async () => {
    await provider.send(email("ada@example.org"));
    const body = fake.accepted.at(-1)?.body;
    expect(body?.personalizations?.[0]).not.toHaveProperty("cc");
    expect(body?.personalizations?.[0]).not.toHaveProperty("bcc");
    expect(body?.categories).toEqual(["newsletter"]);
  });
});
