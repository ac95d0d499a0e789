// An SMTP sink in its own process (so it does not share the worker's CPU in tests), with an HTTP
// endpoint reporting what it received: GET /stats → { total, per_job: { <X-Email-Job-Id>: count },
// per_recipient: { <envelope recipient, lower case>: count }, received_at: { <X-Email-Job-Id>: epoch
// ms of the first copy } }; GET /count → { total } (cheap to poll with 100,000 messages in).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { startSmtpSink } from "./smtp-sink.ts";

// Counted as they arrive rather than kept: a million-recipient bench must not measure a sink that
// slows down as its heap fills with messages.
let total = 0;
const perJob = new Map<string, number>();
const perRecipient = new Map<string, number>();
const receivedAt = new Map<string, number>();
const sink = await startSmtpSink({
  dataDelayMs: Number(process.env.SINK_DATA_DELAY_MS ?? 0),
  onMessage(message) {
    total++;
    const id = message.header("X-Email-Job-Id") ?? "unknown";
    perJob.set(id, (perJob.get(id) ?? 0) + 1);
    if (!receivedAt.has(id)) receivedAt.set(id, message.received_at);
    for (const to of message.to) {
      const recipient = to.toLowerCase();
      perRecipient.set(recipient, (perRecipient.get(recipient) ?? 0) + 1);
    }
  },
});
const http = createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  if (req.url === "/count") {
    res.end(JSON.stringify({ total }));
    return;
  }
  res.end(
    JSON.stringify({
      total,
      per_job: Object.fromEntries(perJob),
      per_recipient: Object.fromEntries(perRecipient),
      received_at: Object.fromEntries(receivedAt),
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
