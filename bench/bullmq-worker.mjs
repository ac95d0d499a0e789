// The peer: a BullMQ worker sending through pooled nodemailer, the way a Node team would write it.
// Renders the same Handlebars template our service renders. Prints "ready" once it consumes.
import { Worker } from "bullmq";
import Handlebars from "handlebars";
import nodemailer from "nodemailer";
import { BENCH_TEMPLATE } from "./workload.ts";

const queueName = process.env.BENCH_QUEUE ?? "bench";
const transport = nodemailer.createTransport({
  pool: true,
  host: "127.0.0.1",
  port: Number(process.env.SMTP_PORT),
  secure: false,
  ignoreTLS: true,
  maxConnections: Number(process.env.SMTP_POOL_SIZE ?? 5),
  maxMessages: Number.POSITIVE_INFINITY,
});
const subject = Handlebars.compile(BENCH_TEMPLATE.subject, { noEscape: true });
const html = Handlebars.compile(BENCH_TEMPLATE.html_template);
const text = Handlebars.compile(BENCH_TEMPLATE.text_template, { noEscape: true });

const worker = new Worker(
  queueName,
  async (job) => {
    const data = job.data as { id: string; to: string; template_data: Record<string, unknown> };
    await transport.sendMail({
      from: "noreply@example.com",
      to: data.to,
      subject: subject(data.template_data),
      html: html(data.template_data),
      text: text(data.template_data),
      headers: { "X-Email-Job-Id": data.id },
    });
  },
  {
    connection: { host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null },
    concurrency: Number(process.env.CONCURRENCY ?? 50),
    removeOnComplete: { count: 0 },
  },
);
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void worker.close().then(() => {
    transport.close();
    process.exit(0);
  });
});
