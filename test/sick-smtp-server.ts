import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";

/** How the server misbehaves with each new connection. */
export type SickBehaviour =
  /** Answers properly and accepts every message. */
  | "healthy"
  /** 421 instead of a greeting, then hangs up (a relay shedding load). */
  | "greet-421"
  /** Never greets. */
  | "silent"
  /** Takes the whole message, then never sends the final reply. */
  | "stall-after-data"
  /** Takes the whole message, then drops the connection before the final reply. */
  | "drop-after-data"
  /** Drops the connection halfway through the message. */
  | "drop-mid-data"
  /** Offers STARTTLS, says go ahead, then sends bytes that are not TLS. */
  | "tls-garbage"
  /** Offers STARTTLS, says go ahead, then never answers the TLS handshake. */
  | "tls-silent"
  /** Answers everything, each reply `slowReplyMs` late. */
  | "slow";

export interface SickSmtpServer {
  port: number;
  behaviour: SickBehaviour;
  slowReplyMs: number;
  /** Connections open right now, from the server's side. */
  readonly openConnections: number;
  /** Messages accepted with a 250 after their data. */
  readonly accepted: number;
  close(): Promise<void>;
}

/**
 * A scriptable SMTP server for the faults a real relay shows under load or failure: each connection
 * gets the behaviour set when it opened. It speaks just enough SMTP (EHLO with PIPELINING and
 * STARTTLS, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to be what a client talks to.
 */
export async function startSickSmtpServer(): Promise<SickSmtpServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const state = { behaviour: "healthy" as SickBehaviour, slowReplyMs: 0 };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const behaviour = state.behaviour;
    const delay = behaviour === "slow" ? state.slowReplyMs : 0;
    const reply = (text: string) => {
      const write = () => socket.writable && socket.write(`${text}\r\n`);
      if (delay > 0) setTimeout(write, delay);
      else write();
    };
    if (behaviour === "silent") return;
    if (behaviour === "greet-421") {
      socket.end("421 4.3.2 Service not available, closing channel\r\n");
      return;
    }
    reply("220 sick.test ESMTP");
    let buffer = "";
    let inData = false;
    let dataBytes = 0;
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      for (;;) {
        if (inData) {
          dataBytes += buffer.length;
          if (behaviour === "drop-mid-data" && dataBytes > 0) {
            socket.destroy();
            return;
          }
          const end = buffer.indexOf("\r\n.\r\n");
          if (end < 0) {
            buffer = buffer.slice(-4);
            return;
          }
          buffer = buffer.slice(end + 5);
          inData = false;
          if (behaviour === "stall-after-data") return;
          if (behaviour === "drop-after-data") {
            socket.destroy();
            return;
          }
          accepted++;
          reply("250 2.0.0 Ok: queued");
          continue;
        }
        const end = buffer.indexOf("\r\n");
        if (end < 0) return;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO")
          reply(
            `250-sick.test${behaviour.startsWith("tls-") ? "\r\n250-STARTTLS" : ""}\r\n250-PIPELINING\r\n250 8BITMIME`,
          );
        else if (verb === "HELO") reply("250 sick.test");
        else if (verb === "STAR") {
          reply("220 2.0.0 Ready to start TLS");
          if (behaviour === "tls-garbage")
            setTimeout(() => socket.write("this is not a TLS server hello\r\n"), 10);
        } else if (verb === "MAIL" || verb === "RCPT" || verb === "RSET" || verb === "NOOP")
          reply("250 2.1.0 Ok");
        else if (verb === "DATA") {
          inData = true;
          dataBytes = 0;
          reply("354 End data with <CR><LF>.<CR><LF>");
        } else if (verb === "QUIT") {
          socket.end("221 2.0.0 Bye\r\n");
          return;
        } else reply("502 5.5.2 Error: command not recognized");
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(behaviour: SickBehaviour) {
      state.behaviour = behaviour;
    },
    get slowReplyMs() {
      return state.slowReplyMs;
    },
    set slowReplyMs(ms: number) {
      state.slowReplyMs = ms;
    },
    get openConnections() {
      return sockets.size;
    },
    get accepted() {
      return accepted;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}
