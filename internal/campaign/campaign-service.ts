import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { NotFoundError } from "../errors/error-kind.ts";
import { isJobId } from "../job/job-id.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import type { TemplateService } from "../service/template-service.ts";
import type {
  CampaignListFilter,
  CampaignRecord,
  CampaignRepository,
  RecipientRow,
} from "../store/campaign-repository.ts";
import { CampaignStateError } from "../store/campaign-repository.ts";
import type { CampaignScheduleRepository } from "../store/campaign-schedule-repository.ts";
import { type AudienceFormat, type AudienceRowError, readAudience } from "./audience-reader.ts";
import type { CampaignDispatcher } from "./campaign-dispatcher.ts";
import { type CampaignAction, type CampaignStatus, TRANSITIONS } from "./campaign-status.ts";
import { type CampaignScheduleView, type CampaignView, campaignView, scheduleView } from "./campaign-view.ts";
import { parseCampaign } from "./parse-campaign.ts";
import { parseRecipient } from "./recipient.ts";
import { nextOccurrence } from "./recurrence.ts";

interface CampaignServiceOptions {
  campaigns: CampaignRepository;
  schedules: CampaignScheduleRepository;
  templates: TemplateService;
  /** Providers configured here: a campaign naming another is refused at once. */
  providers: readonly string[];
  /** Publishes what resuming a campaign takes back (its jobs put aside while it was paused). */
  dispatcher: Pick<CampaignDispatcher, "publish">;
  logger: Logger;
  /** Recipients per database page of an upload. */
  uploadBatchSize?: number;
  /** Told what each page of an upload did (metrics). */
  onUploaded?: (
    campaign: { job_type: string },
    counts: { added: number; duplicate: number; suppressed: number; invalid: number },
  ) => void;
}

/** What an upload did: every row is one of added, duplicates or invalid. */
export interface UploadResult {
  added: number;
  duplicates: number;
  /** Added, but on the suppression list: counted and never sent. */
  suppressed: number;
  invalid: number;
  /** The invalid rows, each with its line (the first MAX_REPORTED_ERRORS of them). */
  errors: AudienceRowError[];
}

const SCHEDULE_FIELDS = ["campaign_id", "cron", "timezone", "name"];

/** Row errors reported back in full; the count of invalid rows is always exact. */
export const MAX_REPORTED_ERRORS = 1_000;

/** Progress of an upload, told after each page is stored. */
export type UploadProgress = (progress: { rows: number; bytes: number }) => void;

/**
 * Campaigns for the API and the CLI: create (content checked at once), add recipients in pages
 * from a list or a stream, start, pause, resume, cancel, and read them with their counts.
 */
export class CampaignService {
  readonly #options: CampaignServiceOptions;

  constructor(options: CampaignServiceOptions) {
    this.#options = options;
  }

  /**
   * Creates a campaign in `draft` (or with the recipients given inline). Inline content is stored
   * as a template of the campaign's own, checked to compile; a stored template must exist and be
   * active. Returns the campaign and, when recipients came with it, what became of them.
   */
  async create(input: unknown): Promise<{ campaign: CampaignView; recipients: UploadResult | undefined }> {
    const parsed = parseCampaign(input);
    const { job } = parsed;
    if (job.provider !== undefined && !this.#options.providers.includes(job.provider))
      throw new JobValidationError([
        {
          field: "provider",
          description: `provider "${job.provider}" is not configured (configured: ${this.#options.providers.join(", ")})`,
        },
      ]);
    const id = randomUUID();
    let templateId = job.template_id;
    if (templateId === undefined) {
      templateId = `campaign-${id}`;
      await this.#options.templates.upsert({
        id: templateId,
        name: `Campaign "${parsed.name}" (its inline content)`,
        subject: job.subject ?? null,
        html_template: job.html ?? null,
        text_template: job.text ?? null,
        is_active: true,
      });
    } else if (!templateId.startsWith("d-")) {
      const template = await this.#options.templates.get(templateId).catch((error: unknown) => {
        if (error instanceof NotFoundError)
          throw new JobValidationError([
            { field: "template_id", description: `template "${templateId}" does not exist` },
          ]);
        throw error;
      });
      if (!template.is_active)
        throw new JobValidationError([
          { field: "template_id", description: `template "${templateId}" is not active` },
        ]);
    }
    const record = await this.#options.campaigns.create({
      id,
      name: parsed.name,
      job_type: job.type,
      template_id: templateId,
      // Inline content's subject is its template's; a stored template's may be overridden.
      subject: job.template_id !== undefined ? (job.subject ?? null) : null,
      template_data: job.template_data,
      from_email: job.from?.email ?? null,
      from_name: job.from?.name ?? null,
      reply_to: job.reply_to?.email ?? null,
      reply_to_name: job.reply_to?.name ?? null,
      headers: Object.keys(job.headers).length > 0 ? job.headers : null,
      provider: job.provider ?? null,
      priority: job.priority,
      max_retries: job.max_retries ?? 3,
      tags: job.tags ?? [],
      tracked: parsed.tracked,
      rate_limit: parsed.rate_limit ?? null,
      scheduled_at: parsed.scheduled_at ?? null,
    });
    this.#options.logger.info({ campaign_id: id, name: parsed.name, type: job.type }, "campaign created");
    const recipients =
      parsed.recipients === undefined ? undefined : await this.addRecipientList(id, parsed.recipients);
    if (parsed.start) return { campaign: await this.act(id, "start"), recipients };
    return {
      campaign: campaignView(recipients ? await this.#record(id) : record),
      recipients,
    };
  }

  /**
   * Adds recipients given as a list (JSON bodies, gRPC): each invalid item is reported by its
   * position, counted from `first` (the position of items[0] when the list is one page of many).
   */
  async addRecipientList(
    id: string,
    items: readonly unknown[],
    first = 1,
    result: UploadResult = emptyResult(),
  ): Promise<UploadResult> {
    const batchSize = this.#options.uploadBatchSize ?? 1_000;
    for (let start = 0; start < items.length; start += batchSize) {
      const rows: RecipientRow[] = [];
      let invalid = 0;
      items.slice(start, start + batchSize).forEach((item, offset) => {
        const index = start + offset;
        try {
          rows.push(parseRecipient(item, `recipients[${index}]`));
        } catch (error) {
          if (!(error instanceof JobValidationError)) throw error;
          invalid++;
          if (result.errors.length < MAX_REPORTED_ERRORS)
            result.errors.push({ line: first + index, reason: describeViolations(error) });
        }
      });
      await this.#store(id, rows, invalid, result);
    }
    return result;
  }

  /** Counts rows a client found invalid itself and did not send (it reports them by line). */
  async countInvalid(id: string, rows: number, result: UploadResult = emptyResult()): Promise<UploadResult> {
    await this.#store(id, [], rows, result);
    return result;
  }

  /** Adds recipients read from an uploaded CSV or JSON-lines stream, page by page. */
  async uploadRecipients(
    id: string,
    source: AsyncIterable<Uint8Array | string>,
    format: AudienceFormat,
    onProgress?: UploadProgress,
  ): Promise<UploadResult> {
    // Checked before reading: a wrong id or an ended campaign is told before any of the upload.
    await this.#openRecord(id);
    const result = emptyResult();
    const options =
      this.#options.uploadBatchSize === undefined ? {} : { batchSize: this.#options.uploadBatchSize };
    for await (const batch of readAudience(source, format, options)) {
      for (const error of batch.errors)
        if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push(error);
      await this.#store(id, batch.recipients, batch.errors.length, result);
      onProgress?.({ rows: batch.lines, bytes: batch.bytes });
    }
    return result;
  }

  async get(id: string): Promise<CampaignView> {
    return campaignView(await this.#record(id));
  }

  async list(
    filter: CampaignListFilter,
  ): Promise<{ campaigns: CampaignView[]; next_cursor: string | undefined }> {
    const page = await this.#options.campaigns.list(filter);
    const now = Date.now();
    return { campaigns: page.campaigns.map((c) => campaignView(c, now)), next_cursor: page.next_cursor };
  }

  /**
   * start: draft → running, or scheduled when its time is ahead. pause: no new sends (in-flight
   * ones finish). resume: back to running (or scheduled, if paused before its time). cancel: no
   * recipient not yet handed to a provider is sent. Doing again what was just done answers the same.
   */
  async act(id: string, action: CampaignAction): Promise<CampaignView> {
    const current = await this.#record(id);
    const target = targetOf(action, current);
    if (current.status === target) return campaignView(current);
    const from: readonly CampaignStatus[] = TRANSITIONS[action];
    const moved = await this.#options.campaigns.transition(id, from, target);
    if (!moved) {
      const now = await this.#record(id);
      if (now.status === target) return campaignView(now);
      throw new CampaignStateError(
        `campaign ${id} is ${now.status}: it cannot ${action} (only from ${from.join(" or ")})`,
        now.status,
      );
    }
    this.#options.logger.info({ campaign_id: id, action, status: target }, `campaign ${target}`);
    if (target === "cancelled") {
      const jobs = await this.#options.campaigns.cancelJobs(id);
      this.#options.logger.info({ campaign_id: id, jobs }, "campaign's waiting jobs cancelled");
    }
    if (action === "resume" && target === "running") {
      // Jobs a worker put aside while paused go back on the queue now, not at the reconciler's pace.
      await this.#options.dispatcher.publish(await this.#options.campaigns.takeParkedJobs(id));
    }
    return campaignView(await this.#record(id));
  }

  /**
   * Makes a draft recurring: on each time `cron` names (in `timezone`, UTC by default) a running
   * copy of it, with its audience as it is then, starts. The draft itself stays a draft.
   */
  async createSchedule(input: unknown): Promise<CampaignScheduleView> {
    const fields = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
    const violations: { field: string; description: string }[] = [];
    for (const key of Object.keys(fields))
      if (!SCHEDULE_FIELDS.includes(key))
        violations.push({ field: key, description: "is not a schedule field" });
    const { campaign_id: campaignId, cron, timezone = "UTC", name } = fields;
    if (typeof campaignId !== "string" || !isJobId(campaignId))
      violations.push({ field: "campaign_id", description: "must be the UUID of a draft campaign" });
    if (typeof cron !== "string" || cron.trim() === "")
      violations.push({ field: "cron", description: 'is required (e.g. "0 9 * * MON")' });
    if (typeof timezone !== "string")
      violations.push({ field: "timezone", description: "must be an IANA time zone" });
    if (name !== undefined && (typeof name !== "string" || name.trim() === "" || name.length > 255))
      violations.push({ field: "name", description: "must be 1-255 characters" });
    if (violations.length > 0) throw new JobValidationError(violations);
    const next = nextOccurrence(cron as string, timezone as string, new Date());
    const blueprint = await this.#record(campaignId as string);
    if (blueprint.status !== "draft")
      throw new CampaignStateError(
        `campaign ${blueprint.id} is ${blueprint.status}: a schedule copies a draft, which it leaves as it is`,
        blueprint.status,
      );
    const schedule = await this.#options.schedules.create({
      name: typeof name === "string" ? name.trim() : blueprint.name,
      blueprint_id: blueprint.id,
      cron: cron as string,
      timezone: timezone as string,
      next_run_at: next,
    });
    this.#options.logger.info(
      { schedule_id: schedule.id, campaign_id: blueprint.id, cron, next_run_at: next },
      "campaign schedule created",
    );
    return scheduleView(schedule);
  }

  async listSchedules(): Promise<CampaignScheduleView[]> {
    return (await this.#options.schedules.list()).map(scheduleView);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return this.#options.schedules.delete(id);
  }

  async #store(id: string, rows: RecipientRow[], invalid: number, result: UploadResult): Promise<void> {
    const added = await this.#options.campaigns.addRecipients(id, rows, invalid);
    if (!added) throw new NotFoundError(`campaign ${id} does not exist`, "campaign_not_found");
    this.#options.onUploaded?.(added, {
      added: added.added - added.suppressed,
      duplicate: added.duplicates,
      suppressed: added.suppressed,
      invalid,
    });
    result.added += added.added;
    result.duplicates += added.duplicates;
    result.suppressed += added.suppressed;
    result.invalid += invalid;
  }

  async #record(id: string): Promise<CampaignRecord> {
    const record = await this.#options.campaigns.get(id, { consistency: "strong" });
    if (!record) throw new NotFoundError(`campaign ${id} does not exist`, "campaign_not_found");
    return record;
  }

  async #openRecord(id: string): Promise<CampaignRecord> {
    const record = await this.#record(id);
    if (record.status === "completed" || record.status === "cancelled")
      throw new CampaignStateError(
        `campaign ${id} is ${record.status}: it takes no more recipients`,
        record.status,
      );
    return record;
  }
}

export function emptyResult(): UploadResult {
  return { added: 0, duplicates: 0, suppressed: 0, invalid: 0, errors: [] };
}

function describeViolations(error: JobValidationError): string {
  return error.violations.map((v) => `${v.field}: ${v.description}`).join("; ");
}

/** Where an action takes this campaign. */
function targetOf(action: CampaignAction, campaign: CampaignRecord): CampaignStatus {
  const ahead = campaign.scheduled_at !== null && campaign.scheduled_at.getTime() > Date.now();
  switch (action) {
    case "start":
    case "resume":
      return ahead ? "scheduled" : "running";
    case "pause":
      return "paused";
    case "cancel":
      return "cancelled";
  }
}
