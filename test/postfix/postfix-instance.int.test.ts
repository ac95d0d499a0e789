import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { createTransport } from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requires } from "../outside-tools.ts";
import { type PostfixInstance, postfixRunnable, startPostfix } from "./postfix-instance.ts";

const postfix = requires("Postfix, run as root", postfixRunnable());

/** Speaks SMTP line by line on `port`, writing `lines` after the greeting, and returns every reply. */
async function converse(port: number, lines: string[]): Promise<string> {
  const socket = createConnection({ host: "127.0.0.1", port });
  let replies = "";
  socket.on("data", (chunk: Buffer) => {
    replies += chunk.toString("latin1");
  });
  // A refused connection just closes: the replies are then empty.
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  const waitFor = async (count: number) => {
    for (let tries = 0; tries < 100 && replies.split(/\r\n(?=\d{3} )/).length <= count; tries++)
      await new Promise((resolve) => setTimeout(resolve, 50));
  };
  await waitFor(0);
  for (const [index, line] of lines.entries()) {
    socket.write(line);
    await waitFor(index + 1);
  }
  socket.end();
  await closed;
  return replies;
}

describe.skipIf(postfix.skip)(`a private Postfix instance${postfix.label}`, () => {
  let first: PostfixInstance;
  let second: PostfixInstance;
  beforeAll(async () => {
    // Two at once, as two test files would start them.
    [first, second] = await Promise.all([
      startPostfix({ plaintext: true, settings: { smtpd_banner: "$myhostname ESMTP private-instance" } }),
      startPostfix(),
    ]);
  });
  afterAll(async () => Promise.all([first?.stop(), second?.stop()]));

  it("delivers any address of a test domain to its one Maildir over STARTTLS, with the caller's settings applied", async () => {
    for (const [instance, to] of [
      [first, "anyone@example.org"],
      [second, "someone.else@example.com"],
    ] as const) {
      const transport = createTransport({
        host: "127.0.0.1",
        port: instance.port,
        requireTLS: true,
        tls: { ca: instance.certificate, servername: "localhost" },
      });
      await transport.sendMail({
        envelope: { from: "noreply@shop.example", to: [to] },
        raw: `From: noreply@shop.example\r\nTo: ${to}\r\nSubject: hello\r\n\r\nbody\r\n`,
      });
      transport.close();
      const [stored] = await instance.waitForMessages(1);
      const text = stored?.toString("latin1") ?? "";
      expect(text).toContain(`Delivered-To: ${to}`);
      expect(text).toMatch(/\(using TLSv1\.[23]/);
      expect(text.endsWith("Subject: hello\n\nbody\n")).toBe(true);
    }
    expect(first.port).not.toBe(second.port);
    expect(await converse(first.port, ["QUIT\r\n"])).toMatch(/^220 mx\.postfix\.test ESMTP private-instance/);
  });

  it("refuses a message with a bare LF in its data, and logs why", async () => {
    const replies = await converse(first.plainPort ?? 0, [
      "EHLO client.test\r\n",
      "MAIL FROM:<noreply@shop.example>\r\n",
      "RCPT TO:<ada@example.org>\r\n",
      "DATA\r\n",
      "Subject: bare\n\nline\r\n.\r\n",
      "QUIT\r\n",
    ]);
    expect(replies).toMatch(/^354 /m);
    expect(replies).toMatch(/^5\d\d .*bare <LF>/im);
    expect(first.log()).toMatch(/bare <LF>/i);
  });

  it("stops completely: its master exits and its directory is gone", async () => {
    const instance = await startPostfix();
    await instance.stop();
    expect(existsSync(instance.directory)).toBe(false);
    await expect(converse(instance.port, [])).resolves.toBe("");
  });
});
