import { afterEach, describe, expect, it } from "vitest";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../../../test/smtp-sink.ts";
import { SmtpConnection, SmtpError } from "./smtp-connection.ts";

const sinks: SmtpSink[] = [];
const connections: SmtpConnection[] = [];
afterEach(async () => {
  for (const c of connections.splice(0)) c.close();
  for (const s of sinks.splice(0)) await s.close();
});

async function session(options: SmtpSinkOptions = {}) {
  const sink = await startSmtpSink(options);
  sinks.push(sink);
  const connection = await SmtpConnection.open({
    host: "127.0.0.1",
    port: sink.port,
    secure: false,
    requireTLS: false,
    ignoreTLS: true,
    timeoutMs: 5_000,
  });
  connections.push(connection);
  return { sink, connection };
}

const message = (body: string) =>
  Buffer.from(`From: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\n\r\n${body}`);

describe("SmtpConnection against a real SMTP server", () => {
  it("dot-stuffs lines that start with a dot, so the message arrives exactly as written", async () => {
    const { sink, connection } = await session();
    const body = ".first line\r\n..two dots\r\nmiddle\r\n.\r\nlast";
    await connection.send({ from: "a@example.com", to: ["b@example.org"] }, message(body));
    expect(sink.messages[0]?.raw).toBe(`${message(body).toString()}\r\n`);
  });

  it("sends to the recipients it accepts and reports the ones it refuses", async () => {
    const { sink, connection } = await session();
    const info = await connection.send(
      { from: "a@example.com", to: ["ok@example.org", "reject550-x@example.org", "fine@example.org"] },
      message("hi"),
    );
    expect(info.accepted).toEqual(["ok@example.org", "fine@example.org"]);
    expect(info.rejected).toEqual(["reject550-x@example.org"]);
    expect(info.rejectedErrors[0]).toMatchObject({
      code: "EENVELOPE",
      responseCode: 550,
      command: "RCPT TO",
    });
    expect(sink.messages[0]?.to).toEqual(["ok@example.org", "fine@example.org"]);
  });

  it("works one command at a time with a server that does not pipeline, and after a reset", async () => {
    const { sink, connection } = await session({ server: { hidePIPELINING: true } });
    const refused = await connection
      .send({ from: "a@example.com", to: ["reject550-y@example.org"] }, message("x"))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SmtpError);
    expect(refused).toMatchObject({ code: "EENVELOPE", responseCode: 550 });
    await connection.reset();
    for (const n of [1, 2, 3])
      await connection.send({ from: "a@example.com", to: [`n${n}@example.org`] }, message("y"));
    expect(sink.messages.map((m) => m.to[0])).toEqual(["n1@example.org", "n2@example.org", "n3@example.org"]);
  });

  it("takes the next message while the last one waits for its final reply", async () => {
    const { sink, connection } = await session({ dataDelayMs: 30 });
    let next: Promise<unknown> | undefined;
    const first = connection.send({ from: "a@example.com", to: ["one@example.org"] }, message("1"), () => {
      next = connection.send({ from: "a@example.com", to: ["two@example.org"] }, message("2"));
    });
    await first;
    await next;
    expect(sink.messages.map((m) => m.to[0])).toEqual(["one@example.org", "two@example.org"]);
  });

  it("logs in with AUTH LOGIN when the server offers nothing else", async () => {
    const { sink, connection } = await session({
      users: { mailer: "not-a-real-password" },
      server: { authMethods: ["LOGIN"] },
    });
    await expect(connection.login("mailer", "wrong")).rejects.toMatchObject({
      code: "EAUTH",
      responseCode: 535,
    });
    await connection.login("mailer", "not-a-real-password");
    await connection.send({ from: "a@example.com", to: ["b@example.org"] }, message("authed"));
    expect(sink.messages[0]?.user).toBe("mailer");
  });
});
