import { createServer, type Server, type Socket } from "node:net";
import { simpleParser } from "mailparser";
import { afterEach, describe, expect, it } from "vitest";
import { SmtpProvider } from "./smtp-provider.ts";

interface Received {
  mailFrom: string[];
  /** Each message's data as this server saw it, stuffing and all, up to the end it took. */
  messages: Buffer[];
}

/**
 * Where a lax server ends DATA: the RFC's CRLF.CRLF, and the bare CR and LF forms that some take
 * for it, which are what SMTP smuggling relies on. The earliest found in the data ends it.
 */
const DATA_ENDS = ["\r\n.\r\n", "\r.\r\n", "\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r"].map((end) =>
  Buffer.from(end),
);

function dataEnd(data: Buffer): { at: number; length: number } | undefined {
  // The data starts on a line of its own: a dot line right at its start ends it too.
  const framed = Buffer.concat([Buffer.from("\r\n"), data]);
  let found: { at: number; length: number } | undefined;
  for (const end of DATA_ENDS) {
    const at = framed.indexOf(end);
    if (at >= 0 && (found === undefined || at - 2 < found.at))
      found = { at: Math.max(at - 2, 0), length: end.length - 2 };
  }
  return found && { at: found.at, length: found.length + 2 };
}

/** A raw SMTP server, lax about line ends as the servers smuggling exploits are, recording every byte. */
function laxServer(received: Received): Server {
  return createServer((socket: Socket) => {
    let buffer = Buffer.alloc(0);
    let inData = false;
    socket.write("220 lax.example ESMTP\r\n");
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (inData) {
          const end = dataEnd(buffer);
          if (end === undefined) return;
          received.messages.push(buffer.subarray(0, end.at));
          buffer = buffer.subarray(end.at + end.length);
          inData = false;
          socket.write("250 2.0.0 queued\r\n");
          continue;
        }
        const newline = buffer.indexOf("\n");
        if (newline < 0) return;
        const command = buffer.subarray(0, newline).toString("latin1").replace(/\r$/, "");
        buffer = buffer.subarray(newline + 1);
        const verb = command.slice(0, 4).toUpperCase();
        if (verb === "EHLO" || verb === "HELO") socket.write("250-lax.example\r\n250 8BITMIME\r\n");
        else if (verb === "MAIL") {
          received.mailFrom.push(/<([^>]*)>/.exec(command)?.[1] ?? "");
          socket.write("250 2.1.0 ok\r\n");
        } else if (verb === "DATA") {
          inData = true;
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") socket.end("221 2.0.0 bye\r\n");
        else socket.write("250 2.0.0 ok\r\n");
      }
    });
  });
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

describe("SMTP smuggling through a message's text", () => {
  it("sends one message with no bare CR or LF, even to a server that ends data at <CR>.<CR><LF>", async () => {
    const received: Received = { mailFrom: [], messages: [] };
    const server = laxServer(received);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const provider = new SmtpProvider({
      host: "127.0.0.1",
      port: typeof address === "object" && address ? address.port : 0,
      useTls: false,
      accounts: [],
      sender: { email: "noreply@example.com", name: "Shop" },
      poolSize: 1,
      timeoutMs: 5_000,
    });
    const text = "hello\r.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n";
    try {
      for (const attachments of [[], [{ filename: "a.txt", content: Buffer.from("a").toString("base64") }]])
        await provider.send({
          job_id: "11111111-2222-4333-8444-555555555555",
          job_type: "smuggling",
          to: { email: "ada@example.org" },
          subject: "Hi",
          text,
          html: `<pre>${text}</pre>`,
          headers: {},
          attachments,
        });
    } finally {
      await provider.close();
    }
    expect(received.mailFrom).toEqual(["noreply@example.com", "noreply@example.com"]);
    expect(received.messages).toHaveLength(2);
    for (const data of received.messages) {
      expect(data.toString("latin1")).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
      // RFC 5321 §4.5.2: the receiver takes the stuffed dot off each line again.
      const message = Buffer.from(data.toString("latin1").replace(/(^|\r\n)\./g, "$1"), "latin1");
      const parsed = await simpleParser(message);
      expect(parsed.text).toBe("hello\n.\nMAIL FROM:<evil@x>\nRCPT TO:<victim@example.org>\nDATA\n");
    }
  });
});
