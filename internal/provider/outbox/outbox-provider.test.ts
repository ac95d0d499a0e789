import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OutboxProvider } from "./outbox-provider.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("OutboxProvider", () => {
  it("writes one RFC 5322 .eml file per job, and the same job again (even at the same moment) replaces it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ew-outbox-"));
    dirs.push(dir);
    const outbox = new OutboxProvider({
      dir: join(dir, "out"),
      sender: { email: "noreply@localhost", name: "email-worker" },
    });
    const email = {
      job_id: "11111111-2222-4333-8444-555555555555",
      job_type: "welcome_email",
      to: { email: "ada@example.org" },
      subject: "Welcome, Ada",
      html: "<p>Hello <b>Ada</b></p>",
      text: "Hello Ada",
      headers: {},
      attachments: [],
    };
    const result = await outbox.send(email);
    await outbox.send(email);
    // Two sends of the job at once (a redelivery racing the first) each finish with the whole file.
    await Promise.all([outbox.send(email), outbox.send(email), outbox.send(email)]);
    expect(result).toEqual({
      provider: "outbox",
      message_id: "<11111111-2222-4333-8444-555555555555@localhost>",
    });
    expect(readdirSync(join(dir, "out"))).toEqual(["11111111-2222-4333-8444-555555555555.eml"]);
    const eml = readFileSync(join(dir, "out", "11111111-2222-4333-8444-555555555555.eml"), "utf8");
    expect(eml).toMatch(/^From: "email-worker" <noreply@localhost>\r$/m);
    expect(eml).toMatch(/^To: ada@example.org\r?$/m);
    expect(eml).toMatch(/^Subject: Welcome, Ada\r?$/m);
    expect(eml).toMatch(/^Message-ID: <11111111-2222-4333-8444-555555555555@localhost>\r?$/m);
    expect(eml).toMatch(/^MIME-Version: 1.0\r?$/m);
    expect(eml).toContain("Hello <b>Ada</b>");
    // The same canonical bytes as go over SMTP: CRLF line ends only.
    expect(eml).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
  });

  it("reports a directory it cannot write to as a configuration fault", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ew-outbox-"));
    dirs.push(dir);
    writeFileSync(join(dir, "a-file"), "");
    const outbox = new OutboxProvider({ dir: join(dir, "a-file", "out"), sender: { email: "a@b.io" } });
    const error = await outbox
      .send({
        job_id: "x",
        job_type: "t",
        to: { email: "a@b.io" },
        subject: "s",
        text: "t",
        headers: {},
        attachments: [],
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "DeliveryError", kind: "config", code: "outbox_enotdir" });
  });
});
