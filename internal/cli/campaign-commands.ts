import { extname } from "node:path";
import { parseArgs } from "node:util";
import { type AudienceFormat, readAudience } from "../campaign/audience-reader.ts";
import {
  type Campaign,
  CampaignStatus,
  CreateCampaignRequest,
  ListCampaignsRequest,
  Priority,
  type RecipientUpload,
  type StreamCampaignRecipientsRequest,
  type StreamCampaignRecipientsResponse,
} from "../gen/emailworker/v1/email_worker.ts";
import { isLane } from "../job/priority.ts";
import {
  campaignStatusFromProto,
  campaignStatusWord,
  priorityFromWord,
  priorityWord,
} from "../proto/enums.ts";
import { UsageError } from "./cli-error.ts";
import type { Command, CommandContext } from "./context.ts";
import { parseData } from "./json-flag.ts";
import { formatTime, progressBar, table } from "./output.ts";

/** Row errors printed after an upload; the count is always complete. */
const SHOWN_ERRORS = 20;

function mailbox(text: string | undefined) {
  if (text === undefined) return undefined;
  const match = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(text);
  return match ? { email: match[2] as string, name: match[1] as string } : { email: text.trim(), name: "" };
}

function formatOf(path: string): AudienceFormat {
  const extension = extname(path).toLowerCase();
  if (extension === ".csv") return "csv";
  if (extension === ".jsonl" || extension === ".ndjson") return "jsonl";
  throw new UsageError(`--recipients ${path}: name a .csv (header row first) or a .jsonl file`);
}

function idArgument(args: string[], usage: string): string {
  const [id] = args;
  if (!id) throw new UsageError(`usage: emailctl campaigns ${usage}`);
  return id;
}

function counts(campaign: Campaign | undefined) {
  const c = campaign?.counts;
  return c ? Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Number(v)])) : {};
}

/** The campaign as JSON words (what GET /v1/campaigns/<id> answers). */
function campaignData(campaign: Campaign | undefined) {
  if (!campaign) return undefined;
  return {
    ...campaign,
    status: campaignStatusWord(campaign.status),
    priority: priorityWord(campaign.priority),
    counts: counts(campaign),
  };
}

function describe(campaign: Campaign | undefined): string {
  if (!campaign) return "";
  const c = counts(campaign);
  return [
    `campaign ${campaign.id}  ${campaign.name}`,
    `  type ${campaign.type}, ${campaignStatusWord(campaign.status)}, priority ${priorityWord(campaign.priority)}` +
      (campaign.rate_limit ? `, at most ${campaign.rate_limit}/s` : "") +
      (campaign.tracked ? "" : ", untracked"),
    `  template ${campaign.template_id}${campaign.scheduled_at ? `, scheduled ${formatTime(campaign.scheduled_at)}` : ""}`,
    `  ${c.total} recipients: ${c.pending} pending, ${c.queued} queued, ${c.sent} sent, ${c.failed} failed, ` +
      `${c.suppressed} suppressed, ${c.cancelled} cancelled`,
    `  ${c.delivered} delivered, ${c.bounced} bounced, ${c.complained} complained, ${c.opened} opened, ` +
      `${c.clicked} clicked, ${c.unsubscribed} unsubscribed; upload: ${c.duplicates} duplicates, ${c.invalid} invalid`,
    `  rate ${campaign.rate.toFixed(1)}/s${campaign.eta ? `, done about ${formatTime(campaign.eta)}` : ""}`,
  ].join("\n");
}

/** One line of a campaign's progress: the bar over what has ended, then the figures. */
function progressLine(campaign: Campaign): string {
  const c = counts(campaign);
  const ended = (c.sent ?? 0) + (c.failed ?? 0) + (c.suppressed ?? 0) + (c.cancelled ?? 0);
  const eta = campaign.eta
    ? `, eta ${Math.max(Math.round((campaign.eta.getTime() - Date.now()) / 1000), 0)}s`
    : "";
  return (
    `${progressBar(c.total ? ended / (c.total ?? 1) : 0)} ${campaignStatusWord(campaign.status)}: ` +
    `${c.sent}/${c.total} sent, ${c.failed} failed, ${c.queued} queued, ${c.pending} pending, ` +
    `${campaign.rate.toFixed(1)}/s${eta}`
  );
}

/**
 * Streams a CSV or JSON-lines file to the campaign in pages, read as it goes: rows found invalid here
 * are reported by their line in the file and counted by the service; a progress bar shows the share
 * of the file sent.
 */
async function uploadFile(
  context: CommandContext,
  id: string,
  path: string,
): Promise<StreamCampaignRecipientsResponse> {
  const format = formatOf(path);
  const { size, chunks } = await context.openFile(path);
  const errors: string[] = [];
  let invalidRows = 0;
  const { out } = context;
  async function* pages(): AsyncGenerator<StreamCampaignRecipientsRequest> {
    for await (const batch of readAudience(chunks, format)) {
      invalidRows += batch.errors.length;
      for (const error of batch.errors)
        if (errors.length < SHOWN_ERRORS) errors.push(`line ${error.line}: ${error.reason}`);
      yield {
        campaign_id: id,
        recipients: batch.recipients.map((r) => ({
          email: r.email,
          name: r.name ?? "",
          template_data: r.template_data,
        })),
        invalid_rows: batch.errors.length,
      };
      if (!out.json)
        out.progress(
          `${progressBar(size ? batch.bytes / size : 1)} ${batch.lines.toLocaleString("en")} lines read`,
        );
    }
  }
  const response = await context.client.stream<
    StreamCampaignRecipientsRequest,
    StreamCampaignRecipientsResponse
  >((c) => c.streamCampaignRecipients, pages());
  if (!out.json) {
    out.progress(`${progressBar(1)} uploaded`, true);
    for (const error of errors) out.note(error);
    if (invalidRows > errors.length) out.note(`… ${invalidRows - errors.length} more invalid rows`);
    // Rows the service refused though they passed here: by their position among those sent.
    for (const error of response.result?.errors ?? []) out.note(`recipient #${error.line}: ${error.reason}`);
  }
  return response;
}

function uploadSummary(result: RecipientUpload | undefined): string {
  if (!result) return "";
  return `added ${result.added} recipients (${result.duplicates} duplicates merged, ${result.suppressed} suppressed, ${result.invalid} invalid)`;
}

export const campaignsCreate: Command = async (context) => {
  const { values } = parseArgs({
    args: context.args,
    options: {
      name: { type: "string" },
      type: { type: "string" },
      template: { type: "string" },
      subject: { type: "string" },
      html: { type: "string" },
      text: { type: "string" },
      data: { type: "string" },
      from: { type: "string" },
      "reply-to": { type: "string" },
      priority: { type: "string" },
      rate: { type: "string" },
      schedule: { type: "string" },
      tag: { type: "string", multiple: true },
      provider: { type: "string" },
      recipients: { type: "string" },
      start: { type: "boolean", default: false },
      untracked: { type: "boolean", default: false },
    },
  });
  if (!values.name || !values.type)
    throw new UsageError(
      "usage: emailctl campaigns create --name N --type T (--template ID | --subject S --html H/--text T) [--recipients file.csv|file.jsonl] [--start] [options]",
    );
  if (values.priority !== undefined && !isLane(values.priority))
    throw new UsageError("--priority must be low, normal, high or critical");
  const rate = values.rate === undefined ? 0 : Number(values.rate);
  if (!Number.isFinite(rate) || rate < 0)
    throw new UsageError("--rate must be a number of emails per second");
  const schedule = values.schedule === undefined ? undefined : new Date(values.schedule);
  if (schedule && Number.isNaN(schedule.getTime()))
    throw new UsageError("--schedule must be an RFC 3339 time");
  const format = values.recipients === undefined ? undefined : formatOf(values.recipients);
  const created = await context.client.call(
    (c) => c.createCampaign,
    CreateCampaignRequest.fromPartial({
      campaign: {
        name: values.name,
        type: values.type,
        template_id: values.template ?? "",
        subject: values.subject ?? "",
        html: values.html ?? "",
        text: values.text ?? "",
        template_data: parseData(values.data, "--data"),
        sender: mailbox(values.from),
        reply_to: mailbox(values["reply-to"]),
        priority:
          values.priority === undefined ? Priority.PRIORITY_UNSPECIFIED : priorityFromWord(values.priority),
        rate_limit: rate,
        scheduled_at: schedule,
        tags: values.tag ?? [],
        provider: values.provider ?? "",
        ...(values.untracked && { tracked: false }),
      },
      // Without an audience file it can start at once; with one, only once it is all in.
      start: values.start && format === undefined,
    }),
  );
  const id = created.campaign?.id as string;
  if (!context.out.json) context.out.print(`created campaign ${id}`);
  let upload: StreamCampaignRecipientsResponse | undefined;
  if (values.recipients) {
    upload = await uploadFile(context, id, values.recipients);
    if (!context.out.json) context.out.print(uploadSummary(upload.result));
  }
  const campaign =
    values.start && upload
      ? (await context.client.call((c) => c.startCampaign, { id })).campaign
      : (upload?.campaign ?? created.campaign);
  if (context.out.json)
    return context.out.data({ campaign: campaignData(campaign), recipients: upload?.result });
  context.out.print(describe(campaign));
};

export const campaignsAdd: Command = async (context) => {
  const { values, positionals } = parseArgs({
    args: context.args,
    allowPositionals: true,
    options: { recipients: { type: "string" } },
  });
  const [id] = positionals;
  if (!id || !values.recipients)
    throw new UsageError("usage: emailctl campaigns add <campaign-id> --recipients file.csv|file.jsonl");
  const upload = await uploadFile(context, id, values.recipients);
  if (context.out.json)
    return context.out.data({ campaign: campaignData(upload.campaign), recipients: upload.result });
  context.out.print(uploadSummary(upload.result));
};

export const campaignsGet: Command = async (context) => {
  const id = idArgument(context.args, "get <campaign-id>");
  const { campaign } = await context.client.call((c) => c.getCampaign, { id });
  if (context.out.json) return context.out.data(campaignData(campaign));
  context.out.print(describe(campaign));
};

export const campaignsList: Command = async (context) => {
  const { values } = parseArgs({
    args: context.args,
    options: {
      status: { type: "string", multiple: true },
      type: { type: "string" },
      tag: { type: "string" },
      limit: { type: "string", default: "50" },
      "page-token": { type: "string" },
    },
  });
  const statuses = (values.status ?? []).map((word) => {
    const value = CampaignStatus[`CAMPAIGN_STATUS_${word.toUpperCase()}` as keyof typeof CampaignStatus];
    if (value === undefined || campaignStatusFromProto(value) === undefined)
      throw new UsageError(`--status ${word}: draft, scheduled, running, paused, completed or cancelled`);
    return value;
  });
  const page = await context.client.call(
    (c) => c.listCampaigns,
    ListCampaignsRequest.fromPartial({
      status: statuses,
      type: values.type ?? "",
      tag: values.tag ?? "",
      page_size: Number(values.limit),
      page_token: values["page-token"] ?? "",
    }),
  );
  if (context.out.json)
    return context.out.data({
      campaigns: page.campaigns.map(campaignData),
      next_page_token: page.next_page_token,
    });
  context.out.print(
    page.campaigns.length
      ? table(
          ["id", "name", "type", "status", "total", "sent", "failed", "pending", "created"],
          page.campaigns.map((c) => {
            const n = counts(c);
            return [
              c.id,
              c.name,
              c.type,
              campaignStatusWord(c.status),
              n.total,
              n.sent,
              n.failed,
              n.pending,
              formatTime(c.created_at),
            ];
          }),
        )
      : "no campaigns",
  );
  if (page.next_page_token) context.out.note(`more: --page-token ${page.next_page_token}`);
};

function actionCommand(action: "start" | "pause" | "resume" | "cancel"): Command {
  return async (context) => {
    const id = idArgument(context.args, `${action} <campaign-id>`);
    const { client } = context;
    const { campaign } = await (action === "start"
      ? client.call((c) => c.startCampaign, { id })
      : action === "pause"
        ? client.call((c) => c.pauseCampaign, { id })
        : action === "resume"
          ? client.call((c) => c.resumeCampaign, { id })
          : client.call((c) => c.cancelCampaign, { id }));
    if (context.out.json) return context.out.data(campaignData(campaign));
    context.out.print(
      `campaign ${id} is ${campaignStatusWord(campaign?.status ?? CampaignStatus.CAMPAIGN_STATUS_UNSPECIFIED)}`,
    );
  };
}

export const campaignsStart = actionCommand("start");
export const campaignsPause = actionCommand("pause");
export const campaignsResume = actionCommand("resume");
export const campaignsCancel = actionCommand("cancel");

const ENDED = new Set<CampaignStatus>([
  CampaignStatus.CAMPAIGN_STATUS_COMPLETED,
  CampaignStatus.CAMPAIGN_STATUS_CANCELLED,
]);

/** Polls the campaign and redraws its progress until it ends (completed or cancelled). */
export const campaignsWatch: Command = async (context) => {
  const { values, positionals } = parseArgs({
    args: context.args,
    allowPositionals: true,
    options: { interval: { type: "string", default: "1" } },
  });
  const id = idArgument(positionals, "watch <campaign-id> [--interval SECONDS]");
  const intervalMs = Number(values.interval) * 1000;
  if (!(intervalMs > 0)) throw new UsageError("--interval must be a number of seconds");
  const sleep = context.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  for (;;) {
    const { campaign } = await context.client.call((c) => c.getCampaign, { id });
    if (!campaign) return;
    const ended = ENDED.has(campaign.status);
    if (context.out.json) context.out.data(campaignData(campaign));
    else context.out.progress(progressLine(campaign), ended);
    if (ended) return;
    await sleep(intervalMs);
  }
};

/** Makes a draft recurring: each time the cron expression names, a running copy of it starts. */
export const campaignsSchedule: Command = async (context) => {
  const { values, positionals } = parseArgs({
    args: context.args,
    allowPositionals: true,
    options: { cron: { type: "string" }, timezone: { type: "string" }, name: { type: "string" } },
  });
  const [id] = positionals;
  if (!id || !values.cron)
    throw new UsageError(
      "usage: emailctl campaigns schedule <draft-campaign-id> --cron '0 9 * * MON' [--timezone Europe/Oslo] [--name N]",
    );
  const { schedule } = await context.client.call((c) => c.createCampaignSchedule, {
    campaign_id: id,
    cron: values.cron,
    timezone: values.timezone ?? "",
    name: values.name ?? "",
  });
  if (context.out.json) return context.out.data(schedule);
  context.out.print(
    `schedule ${schedule?.id}: ${schedule?.cron} (${schedule?.timezone}), next run ${formatTime(schedule?.next_run_at)}`,
  );
};

export const campaignsSchedules: Command = async (context) => {
  const { schedules } = await context.client.call((c) => c.listCampaignSchedules, {});
  if (context.out.json) return context.out.data({ schedules });
  context.out.print(
    schedules.length
      ? table(
          ["id", "name", "cron", "timezone", "next run", "runs", "draft"],
          schedules.map((s) => [
            s.id,
            s.name,
            s.cron,
            s.timezone,
            formatTime(s.next_run_at),
            s.runs,
            s.campaign_id,
          ]),
        )
      : "no campaign schedules",
  );
};

export const campaignsUnschedule: Command = async (context) => {
  const id = idArgument(context.args, "unschedule <schedule-id>");
  const { deleted } = await context.client.call((c) => c.deleteCampaignSchedule, { id });
  if (context.out.json) return context.out.data({ deleted });
  context.out.print(deleted ? `schedule ${id} deleted` : `no schedule ${id}`);
};
