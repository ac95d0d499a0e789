// The peer: a BullMQ worker sending through pooled nodemailer, the way a Node team would write it.
// Renders the template our service renders (BENCH_TEMPLATE, JSON). Prints "ready" once it consumes.
// Plain JavaScript, so that it does not pay for type stripping (~17 MB of RSS) that the compiled
// service it is compared with does not.
import { Worker } from "bullmq";
import Handlebars from "handlebars";
import nodemailer from "nodemailer";

const template = JSON.parse(process.env.BENCH_TEMPLATE ?? "{}");
const transport = nodemailer.createTransport({
  pool: true,
  host: "127.0.0.1",
  port: Number(process.env.SMTP_PORT),
  secure: false,
  ignoreTLS: true,
  maxConnections: Number(process.env.SMTP_POOL_SIZE ?? 5),
  maxMessages: Number.POSITIVE_INFINITY,
});
const subject = Handlebars.compile(template.subject, { noEscape: true });
const html = Handlebars.compile(template.html_template);
const text = Handlebars.compile(template.text_template, { noEscape: true });

const worker = new Worker(
  process.env.BENCH_QUEUE ?? "bench",
  async (job) => {
    const data = job.data;
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
