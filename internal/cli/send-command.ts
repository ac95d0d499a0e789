import { parseArgs } from "node:util";
import { jobToProto } from "../client/job-to-proto.ts";
import { SendBatchRequest, SendEmailRequest } from "../gen/emailworker/v1/email_worker.ts";
import type { EmailJob } from "../job/email-job.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import { parseJob } from "../job/parse-job.ts";
import { EXIT, InvalidInputError, UsageError } from "./cli-error.ts";
import type { Command, CommandContext } from "./context.ts";
import { parseData } from "./json-flag.ts";

const BATCH = 100;

function validate(input: unknown, where: string): EmailJob {
  try {
    return parseJob(input);
  } catch (error) {
    if (error instanceof JobValidationError) throw new InvalidInputError(`${where}: ${error.message}`);
    throw error;
  }
}

async function sendFile(context: CommandContext, path: string): Promise<void> {
  const lines = (await context.readFile(path)).split("\n");
  const jobs: { line: number; job: EmailJob }[] = [];
  const problems: string[] = [];
  lines.forEach((text, index) => {
    if (text.trim() === "") return;
    try {
      jobs.push({ line: index + 1, job: validate(JSON.parse(text), `line ${index + 1}`) });
    } catch (error) {
      problems.push(error instanceof SyntaxError ? `line ${index + 1}: not JSON` : (error as Error).message);
    }
  });
  if (problems.length > 0)
    throw new UsageError(`${path} has invalid jobs, nothing was sent:\n  ${problems.join("\n  ")}`);

  const results: { line: number; job_id: string; duplicate: boolean; error?: string }[] = [];
  for (let i = 0; i < jobs.length; i += BATCH) {
    const chunk = jobs.slice(i, i + BATCH);
    const response = await context.client.call(
      (c) => c.sendBatch,
      SendBatchRequest.fromPartial({ jobs: chunk.map((j) => jobToProto(j.job)) }),
    );
    response.items.forEach((item, k) => {
      const line = chunk[k]?.line ?? 0;
      if (item.accepted)
        results.push({ line, job_id: item.accepted.job_id, duplicate: item.accepted.duplicate });
      else results.push({ line, job_id: "", duplicate: false, error: item.error?.message ?? "rejected" });
    });
    if (!context.out.json) context.out.note(`sent ${Math.min(i + BATCH, jobs.length)}/${jobs.length}`);
  }
  const rejected = results.filter((r) => r.error);
  if (context.out.json) context.out.data(results);
  else context.out.print(`${results.length - rejected.length} queued, ${rejected.length} rejected`);
  for (const r of rejected) context.out.note(`line ${r.line}: ${r.error}`);
  if (rejected.length > 0) process.exitCode = EXIT.invalid;
}

export const send: Command = async (context) => {
  const { values } = parseArgs({
    args: context.args,
    options: {
      file: { type: "string" },
      to: { type: "string" },
      name: { type: "string" },
      type: { type: "string", default: "manual" },
      template: { type: "string" },
      data: { type: "string" },
      subject: { type: "string" },
      html: { type: "string" },
      text: { type: "string" },
      from: { type: "string" },
      cc: { type: "string", multiple: true },
      bcc: { type: "string", multiple: true },
      tag: { type: "string", multiple: true },
      sandbox: { type: "boolean", default: false },
      priority: { type: "string" },
      schedule: { type: "string" },
      tracked: { type: "boolean", default: false },
      "idempotency-key": { type: "string" },
      provider: { type: "string" },
      metadata: { type: "string" },
    },
  });
  if (values.file) return sendFile(context, values.file);
  if (!values.to)
    throw new UsageError(
      "usage: emailctl send --to <address> (--template <id> | --subject … --html/--text …) [options], or --file jobs.jsonl",
    );
  const input: Record<string, unknown> = {
    type: values.type,
    recipient_email: values.to,
    tracked: values.tracked,
    ...(values.name && { recipient_name: values.name }),
    ...(values.template && { template_id: values.template }),
    ...(values.data && { template_data: parseData(values.data, "--data") }),
    ...(values.subject && { subject: values.subject }),
    ...(values.html && { html: values.html }),
    ...(values.text && { text: values.text }),
    ...(values.from && { from: values.from }),
    // "a@b.c" or "Name <a@b.c>", as --from takes them; repeat the option for more.
    ...(values.cc && { cc: values.cc }),
    ...(values.bcc && { bcc: values.bcc }),
    ...(values.tag && { tags: values.tag }),
    ...(values.sandbox && { sandbox: true }),
    ...(values.priority && {
      priority: /^-?\d+$/.test(values.priority) ? Number(values.priority) : values.priority,
    }),
    ...(values.schedule && { scheduled_at: values.schedule }),
    ...(values["idempotency-key"] && { idempotency_key: values["idempotency-key"] }),
    ...(values.provider && { provider: values.provider }),
    ...(values.metadata && { metadata: parseData(values.metadata, "--metadata") }),
  };
  const job = validate(input, "invalid email");
  const result = await context.client.call(
    (c) => c.sendEmail,
    SendEmailRequest.fromPartial({ job: jobToProto(job) }),
  );
  if (context.out.json) return context.out.data(result);
  const note = result.duplicate ? " (duplicate idempotency key: the first job, nothing new queued)" : "";
  context.out.print(`queued ${result.tracked ? "tracked " : ""}job ${result.job_id}${note}`);
};
