import { once } from "node:events";
import { type AddressInfo, createConnection, createServer, type Socket } from "node:net";

/**
 * A TCP relay in front of an SMTP server that keeps every byte the client sent, per connection:
 * what a server reads off the wire, before any server-side parsing can forgive it.
 */
export interface WireTap {
  port: number;
  /** The client's bytes of each connection, in the order the connections opened. */
  sessions(): Buffer[];
  close(): Promise<void>;
}

export async function startWireTap(upstreamPort: number): Promise<WireTap> {
  const recorded: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const chunks: Buffer[] = [];
    recorded.push(chunks);
    const upstream = createConnection({ host: "127.0.0.1", port: upstreamPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      // A killed service resets its sockets; the relay closes the other side and carries on.
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => chunks.push(chunk));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    sessions: () => recorded.map((chunks) => Buffer.concat(chunks)),
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** One DATA section as the wire carried it, up to and excluding the `CRLF.CRLF` that ended it. */
export interface WireMessage {
  /** The MAIL FROM and RCPT TO commands of this transaction. */
  envelope: string[];
  data: Buffer;
}

export interface WireReading {
  messages: WireMessage[];
  /** Offsets of CRs not followed by LF and LFs not preceded by CR anywhere in the stream. */
  bareLineBreaks: number[];
}

/**
 * Reads a client's SMTP stream the way a strict server does: commands end at CRLF, a message's data
 * at the first CRLF.CRLF after DATA. With no bare CR or LF in the stream, lenient servers (ending
 * data at LF.LF, CR.CR, …) read the same messages.
 */
export function readSmtpStream(stream: Buffer): WireReading {
  const bareLineBreaks: number[] = [];
  for (let i = 0; i < stream.length; i++) {
    if (stream[i] === 0x0d && stream[i + 1] !== 0x0a) bareLineBreaks.push(i);
    if (stream[i] === 0x0a && stream[i - 1] !== 0x0d) bareLineBreaks.push(i);
  }
  const messages: WireMessage[] = [];
  let envelope: string[] = [];
  let at = 0;
  while (at < stream.length) {
    const end = stream.indexOf("\r\n", at);
    if (end < 0) break;
    const command = stream.subarray(at, end).toString("latin1");
    at = end + 2;
    const verb = command.slice(0, 4).toUpperCase();
    if (verb === "MAIL" || verb === "RCPT") envelope.push(command);
    if (verb === "RSET") envelope = [];
    if (verb !== "DATA") continue;
    // The data starts after the server's 354, which a pipelining client does not wait for on the wire.
    const terminator = stream.indexOf("\r\n.\r\n", at - 2);
    const stop = terminator < 0 ? stream.length : terminator;
    messages.push({ envelope, data: stream.subarray(at, stop) });
    envelope = [];
    at = terminator < 0 ? stream.length : terminator + 5;
  }
  return { messages, bareLineBreaks };
}
