// The API bench's peer: a minimal node:http server that takes an email as a JSON POST and answers
// 202 with the job id once BullMQ's Queue.add resolved, the way a Node team would put an intake in
// front of BullMQ. No validation, no auth. Listens on PORT (127.0.0.1), adds to BENCH_QUEUE; prints
// "ready" once it listens. Plain JavaScript, like bullmq-worker.mjs, so it pays for no type stripping.
import { createServer } from "node:http";
import { Queue } from "bullmq";

const queue = new Queue(process.env.BENCH_QUEUE ?? "bench", {
  connection: { host: "127.0.0.1", port: 6379 },
});

const server = createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const answer = (status, body) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    let data;
    try {
      data = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      answer(400, { error: "the body is not JSON" });
      return;
    }
    queue.add("email", data).then(
      (job) => answer(202, { job_id: job.id }),
      (error) => answer(500, { error: String(error) }),
    );
  });
});

await queue.waitUntilReady();
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void queue.close().then(() => process.exit(0));
});
