// An SMTP sink in its own process (so it does not share the worker's CPU in tests), with an HTTP
// endpoint reporting what it received: GET /stats → { total, per_job: { <X-Email-Job-Id>: count },
// per_recipient: { <envelope recipient, lower case>: count }, received_at: { <X-Email-Job-Id>: epoch
// ms of the first copy } }; GET /count → { total } (cheap to poll with 100,000 messages in).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { startSmtpSink } from "./smtp-sink.ts";

const sink = await startSmtpSink({ dataDelayMs: Number(process.env.SINK_DATA_DELAY_MS ?? 0) });
const http = createServer((req, res) => {
  if (req.url === "/count") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ total: sink.messages.length }));
    return;
  }
  const perJob: Record<string, number> = {};
  const perRecipient: Record<string, number> = {};
  const receivedAt: Record<string, number> = {};
  for (const message of sink.messages) {
    const id = message.header("X-Email-Job-Id") ?? "unknown";
    perJob[id] = (perJob[id] ?? 0) + 1;
    receivedAt[id] ??= message.received_at;
    for (const to of message.to) perRecipient[to.toLowerCase()] = (perRecipient[to.toLowerCase()] ?? 0) + 1;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      total: sink.messages.length,
      per_job: perJob,
      per_recipient: perRecipient,
      received_at: receivedAt,
    }),
  );
});
// Never close an idle keep-alive connection first: a client reusing it at that moment gets ECONNRESET.
http.keepAliveTimeout = 0;
http.listen(0, "127.0.0.1", () => {
  process.stdout.write(
    `${JSON.stringify({ smtp: sink.port, http: (http.address() as AddressInfo).port })}\n`,
  );
});
process.on("SIGTERM", () => {
  http.close();
  void sink.close().then(() => process.exit(0));
});
