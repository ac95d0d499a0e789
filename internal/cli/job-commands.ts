import { parseArgs } from "node:util";
import {
  CancelEmailJobRequest,
  type EmailJobView,
  GetEmailJobRequest,
  GetQueueStatsRequest,
  ListEmailJobsRequest,
  RetryEmailJobRequest,
} from "../gen/emailworker/v1/email_worker.ts";
import { LANES } from "../job/priority.ts";
import { isJobStatus } from "../job/status.ts";
import { eventTypeWord, jobStatusToProto, jobStatusWord, priorityWord } from "../proto/enums.ts";
import { UsageError } from "./cli-error.ts";
import type { Command, CommandContext } from "./context.ts";
import { formatTime, table } from "./output.ts";

/** A job view with its enums as the words the HTTP API and the wire format use, for printing. */
function inWords(job: EmailJobView) {
  return {
    ...job,
    status: jobStatusWord(job.status),
    priority: priorityWord(job.priority),
    events: job.events.map((e) => ({ ...e, status: eventTypeWord(e.status) })),
  };
}

function jobRows(jobs: readonly EmailJobView[]) {
  return table(
    ["id", "type", "status", "tries", "created", "error"],
    jobs.map((j) => [
      j.id,
      j.type,
      jobStatusWord(j.status),
      `${j.retry_count}/${j.max_retries}`,
      formatTime(j.created_at),
      j.error_message,
    ]),
  );
}

export const status: Command = async ({ client, out }) => {
  const { stats } = await client.call((c) => c.getQueueStats, GetQueueStatsRequest.fromPartial({}));
  if (!stats) throw new Error("the service returned no statistics");
  if (out.json) return out.data(stats);
  out.print(`queue driver: ${stats.driver}`);
  out.print(
    table(
      ["lane", "waiting"],
      LANES.map((lane) => [lane, stats.lanes[lane] ?? 0]),
    ),
  );
  out.print(
    `in flight: ${stats.in_flight}   delayed: ${stats.delayed}   dead letters: ${stats.dead_letters}`,
  );
  const tracked = Object.entries(stats.tracked_by_status);
  out.print(tracked.length ? table(["tracked status", "jobs"], tracked) : "no tracked jobs");
};

async function listJobs(context: CommandContext, preset: string[]): Promise<void> {
  const { values } = parseArgs({
    args: context.args,
    options: {
      status: { type: "string", multiple: true },
      type: { type: "string" },
      tag: { type: "string", multiple: true },
      recipient: { type: "string" },
      limit: { type: "string", default: "50" },
      "page-token": { type: "string" },
    },
  });
  const statuses = values.status ?? preset;
  const unknown = statuses.filter((s) => !isJobStatus(s));
  if (unknown.length > 0) throw new UsageError(`unknown status ${unknown.join(", ")}`);
  const page = await context.client.call(
    (c) => c.listEmailJobs,
    ListEmailJobsRequest.fromPartial({
      status: statuses.map(jobStatusToProto),
      type: values.type ?? "",
      tags: values.tag ?? [],
      recipient_email: values.recipient ?? "",
      page_size: Number(values.limit),
      page_token: values["page-token"] ?? "",
    }),
  );
  if (context.out.json) return context.out.data({ ...page, jobs: page.jobs.map(inWords) });
  context.out.print(page.jobs.length ? jobRows(page.jobs) : "no jobs");
  if (page.next_page_token) context.out.note(`more: --page-token ${page.next_page_token}`);
}

export const pending: Command = (context) => listJobs(context, ["pending", "retrying", "processing"]);
export const failed: Command = (context) => listJobs(context, ["failed"]);
export const jobsList: Command = (context) => listJobs(context, []);

function oneId(args: readonly string[], usage: string): string {
  const [id, ...rest] = args;
  if (!id || rest.length > 0) throw new UsageError(`usage: ${usage}`);
  return id;
}

function printJob(context: CommandContext, job: EmailJobView | undefined): void {
  if (!job) throw new Error("the service returned no job");
  if (context.out.json) {
    context.out.data(inWords(job));
    return;
  }
  context.out.print(
    table(
      ["field", "value"],
      [
        ["id", job.id],
        ["type", job.type],
        ["recipient", job.recipient_email],
        ["status", jobStatusWord(job.status)],
        ["tries", `${job.retry_count}/${job.max_retries}`],
        ["template", job.template_id],
        ["created", formatTime(job.created_at)],
        ["sent", formatTime(job.sent_at)],
        ["error", job.error_message],
      ],
    ),
  );
  if (job.events.length > 0) {
    context.out.print("");
    context.out.print(
      table(
        ["event", "provider", "message id", "at"],
        job.events.map((e) => [eventTypeWord(e.status), e.provider, e.message_id, formatTime(e.at)]),
      ),
    );
  }
}

export const jobsGet: Command = async (context) => {
  const id = oneId(context.args, "emailctl jobs get <job-id>");
  const { job } = await context.client.call((c) => c.getEmailJob, GetEmailJobRequest.fromPartial({ id }));
  printJob(context, job);
};

export const cancel: Command = async (context) => {
  const id = oneId(context.args, "emailctl cancel <job-id>");
  const { job } = await context.client.call(
    (c) => c.cancelEmailJob,
    CancelEmailJobRequest.fromPartial({ id }),
  );
  printJob(context, job);
};

export const retry: Command = async (context) => {
  const id = oneId(context.args, "emailctl retry <job-id>");
  const { job } = await context.client.call((c) => c.retryEmailJob, RetryEmailJobRequest.fromPartial({ id }));
  printJob(context, job);
};
