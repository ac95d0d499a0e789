import { z } from "zod";
import type { CampaignService } from "../campaign/campaign-service.ts";
import { type CampaignAction, type CampaignStatus, isCampaignStatus } from "../campaign/campaign-status.ts";
import { FailedPreconditionError, KindedError, NotFoundError } from "../errors/error-kind.ts";
import type { JsonValue } from "../job/email-job.ts";
import { isJobId } from "../job/job-id.ts";
import { parseAddress } from "../job/parse-job.ts";
import { CANCELLABLE_STATUSES, isJobStatus, type JobStatus } from "../job/status.ts";
import { truncatedBody } from "../queue/dead-letter-body.ts";
import { causeOf } from "../queue/dead-letter-reason.ts";
import type { HealthMonitor } from "../server/http/health-monitor.ts";
import type { EmailService } from "../service/email-service.ts";
import { jobView } from "../service/job-view.ts";
import type { TemplateService } from "../service/template-service.ts";
import { templateRecordView } from "../service/template-view.ts";
import { rowToJob } from "../store/job-mapping.ts";
import type { EmailJobRecord } from "../store/job-repository.ts";
import {
  SUPPRESSION_REASONS,
  type SuppressionReason,
  type SuppressionRecord,
} from "../store/suppression-repository.ts";
import type { EmailTemplateRecord } from "../store/template-repository.ts";
import { goToHandlebars, isGoTemplate } from "../template/go-syntax.ts";
import { requiredVariables } from "../template/required-variables.ts";
import type {
  CampaignPageView,
  DeadLetterPageView,
  JobDetailView,
  JobPageView,
  JobPreviewView,
  JobSummary,
  OverviewView,
  ReplayResultView,
  SuppressionPageView,
  SuppressionView,
  TemplatePageView,
  TemplatePreviewView,
  TemplateView,
  Wire,
} from "./console-api.ts";

/** The fleet's sent and failed counts per minute (see ThroughputRepository). */
export interface ThroughputHistory {
  lastHour(now: Date): Promise<{ minute: Date; sent: number; failed: number }[]>;
}

export interface ConsoleHandlersOptions {
  emails: EmailService;
  templates: TemplateService;
  /** Absent: the console shows no campaigns. */
  campaigns?: CampaignService | undefined;
  health: HealthMonitor;
  throughput: ThroughputHistory;
  now?: () => number;
}

/** JSON.stringify writes each Date as its ISO string when the answer is sent. */
function wire<T>(value: T): Wire<T> {
  return value as unknown as Wire<T>;
}

/** Input of the wrong shape: every problem named with its field, as the rest of the API does. */
function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
  throw new KindedError("invalid_argument", problems.join("; "), { code: "invalid_request" });
}

const text = (max: number) => z.string().max(max);

const jobSearchSchema = z.strictObject({
  id: text(100).optional(),
  recipient: text(320).optional(),
  type: text(200).optional(),
  status: z.array(text(40)).max(10).optional(),
  tag: text(200).optional(),
  campaign_id: text(100).optional(),
  created_after: z.iso.datetime({ offset: true }).optional(),
  created_before: z.iso.datetime({ offset: true }).optional(),
  cursor: text(1_000).optional(),
  limit: z.number().int().min(1).max(200).optional(),
});

const deadLetterSearchSchema = z.strictObject({
  reason: text(1_000).optional(),
  cursor: text(1_000).optional(),
});

const replaySchema = z.strictObject({
  ids: z.array(text(200)).max(1_000).optional(),
  reason_contains: text(1_000).optional(),
  dry_run: z.boolean(),
});

const templateEditSchema = z.strictObject({
  name: text(200).min(1, "is required"),
  subject: z.string(),
  html_template: z.string(),
  text_template: z.string(),
  variables: z.array(text(200)).max(200),
  is_active: z.boolean(),
  create: z.boolean().optional(),
});

const templatePreviewSchema = z.strictObject({
  template: z.strictObject({
    subject: z.string(),
    html_template: z.string(),
    text_template: z.string(),
    variables: z.array(text(200)).max(200),
  }),
  data: z.record(z.string(), z.unknown()),
});

const suppressionSearchSchema = z.strictObject({
  contains: text(320).optional(),
  cursor: text(1_000).optional(),
});

const newSuppressionSchema = z.strictObject({
  email: z.string(),
  reason: z.enum(SUPPRESSION_REASONS),
  details: text(1_000).optional(),
});

const suppressionRemovalSchema = z.strictObject({ email: text(320) });

/** The API's view of a template (the gRPC API's fields, dates as strings). */
function templateView(template: EmailTemplateRecord): TemplateView {
  return wire(templateRecordView(template));
}

function suppressionView(record: SuppressionRecord): SuppressionView {
  return wire({ ...record });
}

function jobSummary(record: EmailJobRecord): JobSummary {
  const { events: _events, metadata: _metadata, ...summary } = jobView(record);
  return wire(summary);
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

function existingJobId(id: string): string {
  if (!isJobId(id)) throw new NotFoundError(`no tracked job ${id}`);
  return id;
}

/** What each console page reads and does, over the services the gRPC and HTTP APIs use. */
export class ConsoleHandlers {
  readonly #options: ConsoleHandlersOptions;
  readonly #now: () => number;

  constructor(options: ConsoleHandlersOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get hasCampaigns(): boolean {
    return this.#options.campaigns !== undefined;
  }

  async overview(): Promise<OverviewView> {
    const { emails, health, throughput } = this.#options;
    const now = new Date(this.#now());
    const [stats, report, minutes] = await Promise.all([
      emails.stats(),
      health.health(),
      throughput.lastHour(now),
    ]);
    return {
      generated_at: now.toISOString(),
      driver: stats.driver,
      queue: { ...stats.queue, lanes: { ...stats.queue.lanes } },
      tracked_by_status: stats.tracked_by_status,
      throughput: minutes.map((m) => ({ minute: m.minute.toISOString(), sent: m.sent, failed: m.failed })),
      health: {
        status: report.status,
        version: report.version,
        uptime: report.uptime,
        queue: report.queue,
        database: report.database,
        consumer: report.consumer,
        replica: report.replica,
        draining: report.draining,
      },
      providers: Object.entries(report.providers).map(([name, circuit]) => ({
        name,
        circuit,
        error_rate: report.provider_error_rates[name] ?? 0,
        check: report.provider_checks[name] ?? "pending",
      })),
    };
  }

  async searchJobs(input: unknown): Promise<JobPageView> {
    const search = parse(jobSearchSchema, input);
    const { emails } = this.#options;
    if (search.id) {
      const found = isJobId(search.id) ? await emails.getJob(search.id) : undefined;
      return { jobs: found ? [jobSummary(found.job)] : [], next_cursor: null };
    }
    const statuses = search.status ?? [];
    const unknown = statuses.filter((s) => !isJobStatus(s));
    if (unknown.length > 0)
      throw new KindedError("invalid_argument", `status: unknown status ${unknown.join(", ")}`, {
        code: "invalid_request",
      });
    if (search.campaign_id && !isJobId(search.campaign_id))
      throw new KindedError("invalid_argument", "campaign_id: must be a campaign's id (a UUID)", {
        code: "invalid_request",
      });
    const page = await emails.listJobs({
      ...(statuses.length > 0 && { status: statuses as JobStatus[] }),
      ...(search.recipient && { recipient_email: search.recipient }),
      ...(search.type && { job_type: search.type }),
      ...(search.tag && { tags: [search.tag] }),
      ...(search.campaign_id && { campaign_id: search.campaign_id }),
      ...(search.created_after && { created_after: new Date(search.created_after) }),
      ...(search.created_before && { created_before: new Date(search.created_before) }),
      ...(search.cursor && { cursor: search.cursor }),
      limit: search.limit ?? 50,
    });
    return { jobs: page.jobs.map(jobSummary), next_cursor: page.next_cursor ?? null };
  }

  async job(id: string): Promise<JobDetailView> {
    const found = await this.#options.emails.getJob(existingJobId(id));
    if (!found) throw new NotFoundError(`no tracked job ${id}`);
    const status = found.job.status as JobStatus;
    return {
      job: wire(jobView(found.job, found.events)),
      can_cancel: CANCELLABLE_STATUSES.includes(status),
      can_retry: status === "failed",
    };
  }

  /** The job's message as it renders now; a template that no longer renders is shown as its error. */
  async jobPreview(id: string): Promise<JobPreviewView> {
    const found = await this.#options.emails.getJob(existingJobId(id));
    if (!found) throw new NotFoundError(`no tracked job ${id}`);
    try {
      const rendered = await this.#options.templates.previewJob(rowToJob(found.job));
      return {
        ok: true,
        rendered: { subject: rendered.subject, html: rendered.html ?? "", text: rendered.text },
      };
    } catch (error) {
      if (error instanceof KindedError && error.kind !== "internal" && error.kind !== "unavailable")
        return { ok: false, error: error.message };
      throw error;
    }
  }

  async cancelJob(id: string): Promise<{ job: JobSummary }> {
    const result = await this.#options.emails.cancel(existingJobId(id));
    if (result.outcome === "not_found") throw new NotFoundError(`no tracked job ${id}`);
    if (result.outcome === "not_cancellable")
      throw new FailedPreconditionError(`job ${id} is ${result.job.status} and can no longer be cancelled`);
    return { job: jobSummary(result.job) };
  }

  async retryJob(id: string): Promise<{ job: JobSummary }> {
    const result = await this.#options.emails.retry(existingJobId(id));
    if (result.outcome === "not_found") throw new NotFoundError(`no tracked job ${id}`);
    if (result.outcome === "not_retryable")
      throw new FailedPreconditionError(`job ${id} is ${result.job.status}; only failed jobs can be retried`);
    return { job: jobSummary(result.job) };
  }

  /** A search, not a URL query: a bounce's reason often holds the address it is about. */
  async deadLetters(input: unknown): Promise<DeadLetterPageView> {
    const search = parse(deadLetterSearchSchema, input);
    const page = await this.#options.emails.listDeadLetters({
      limit: 50,
      reasonContains: search.reason || undefined,
      pageToken: search.cursor || undefined,
    });
    return {
      dead_letters: page.letters.map((letter) => {
        const { cause, code } = causeOf(letter.reason);
        return {
          id: letter.id,
          lane: letter.lane,
          reason: letter.reason,
          cause,
          error_code: code ?? null,
          attempt: letter.attempt,
          failed_at: letter.failed_at.toISOString(),
          ...truncatedBody(letter.body),
        };
      }),
      next_cursor: page.next_page_token ?? null,
      total: page.total_count,
    };
  }

  async replayDeadLetters(input: unknown): Promise<ReplayResultView> {
    const request = parse(replaySchema, input);
    const result = await this.#options.emails.replayDeadLetters({
      ids: request.ids ?? [],
      reasonContains: request.reason_contains || undefined,
      type: undefined,
      failedAfter: undefined,
      failedBefore: undefined,
      all: false,
      limit: 1_000,
      dryRun: request.dry_run,
    });
    return { replayed: result.replayed, missing: result.missing, dry_run: request.dry_run };
  }

  async templateList(params: URLSearchParams): Promise<TemplatePageView> {
    const page = await this.#options.templates.list({
      limit: 100,
      cursor: params.get("cursor") || undefined,
    });
    return {
      templates: page.templates.map(templateView),
      next_cursor: page.next_cursor ?? null,
      total: page.total_count,
    };
  }

  async template(id: string): Promise<{ template: TemplateView }> {
    return { template: templateView(await this.#options.templates.get(id)) };
  }

  /** Saves a template; one that cannot render is refused with the reason (TemplateService). */
  async saveTemplate(id: string, input: unknown): Promise<{ template: TemplateView }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(id))
      throw new KindedError(
        "invalid_argument",
        "id: letters, digits, '.', '_' and '-' (at most 200), starting with a letter or digit",
        { code: "invalid_request" },
      );
    const edit = parse(templateEditSchema, input);
    const template = {
      id,
      name: edit.name,
      subject: edit.subject || null,
      html_template: edit.html_template || null,
      text_template: edit.text_template || null,
      variables: await this.#variablesToStore(id, edit.variables),
      is_active: edit.is_active,
    };
    if (!edit.create) return { template: templateView(await this.#options.templates.upsert(template)) };
    // Typing an existing id into "New template" must not silently replace that template.
    const created = await this.#options.templates.create(template);
    if (!created)
      throw new KindedError("conflict", `template "${id}" already exists: open it to change it`, {
        code: "template_exists",
      });
    return { template: templateView(created) };
  }

  /**
   * The editor shows a template's required variables as names; a stored template may declare them
   * in a richer form (optional ones, types). Unchanged names keep what is stored.
   */
  async #variablesToStore(id: string, names: string[]): Promise<JsonValue> {
    const stored = await this.#options.templates.get(id).catch(() => undefined);
    if (stored && sameNames(requiredVariables(stored.variables), names)) return stored.variables as JsonValue;
    return names;
  }

  async deleteTemplate(id: string): Promise<{ deleted: boolean }> {
    return { deleted: await this.#options.templates.delete(id) };
  }

  /** A draft rendered with sample data; what stops it is part of the answer, not an error. */
  async previewTemplate(input: unknown): Promise<TemplatePreviewView> {
    const { template, data } = parse(templatePreviewSchema, input);
    const missing = template.variables.filter((name) => data[name] === undefined);
    const parts = [template.subject, template.html_template, template.text_template];
    const translated = parts.some(isGoTemplate)
      ? {
          subject: goToHandlebars(template.subject),
          html_template: goToHandlebars(template.html_template),
          text_template: goToHandlebars(template.text_template),
        }
      : null;
    try {
      const rendered = await this.#options.templates.preview(
        undefined,
        {
          id: "preview",
          subject: template.subject || null,
          html_template: template.html_template || null,
          text_template: template.text_template || null,
          variables: template.variables,
        },
        data as Record<string, JsonValue>,
      );
      return {
        rendered: { subject: rendered.subject, html: rendered.html ?? "", text: rendered.text },
        error: null,
        missing_variables: missing,
        translated,
      };
    } catch (error) {
      if (!(error instanceof KindedError) || error.kind === "internal" || error.kind === "unavailable")
        throw error;
      return { rendered: null, error: error.message, missing_variables: missing, translated };
    }
  }

  async suppressions(input: unknown): Promise<SuppressionPageView> {
    const search = parse(suppressionSearchSchema, input);
    const page = await this.#options.emails.listSuppressions({
      limit: 50,
      ...(search.contains && { contains: search.contains }),
      ...(search.cursor && { cursor: search.cursor }),
    });
    return { suppressions: page.suppressions.map(suppressionView), next_cursor: page.next_cursor ?? null };
  }

  async addSuppression(input: unknown): Promise<{ suppression: SuppressionView }> {
    const request = parse(newSuppressionSchema, input);
    const email = parseAddress(request.email, "email");
    const record = await this.#options.emails.addSuppression(
      email,
      request.reason as SuppressionReason,
      "console",
      request.details || undefined,
    );
    return { suppression: suppressionView(record) };
  }

  async removeSuppression(input: unknown): Promise<{ removed: boolean }> {
    const { email } = parse(suppressionRemovalSchema, input);
    return { removed: await this.#options.emails.removeSuppression(email) };
  }

  async campaignList(params: URLSearchParams): Promise<CampaignPageView> {
    const statuses = params
      .getAll("status")
      .flatMap((s) => s.split(","))
      .filter(Boolean);
    const unknown = statuses.filter((s) => !isCampaignStatus(s));
    if (unknown.length > 0)
      throw new KindedError("invalid_argument", `status: "${unknown.join(", ")}" is not a campaign status`, {
        code: "invalid_request",
      });
    const page = await this.#campaigns().list({
      ...(statuses.length > 0 && { status: statuses as CampaignStatus[] }),
      ...(params.get("cursor") && { cursor: params.get("cursor") as string }),
      limit: 100,
    });
    return { campaigns: wire(page.campaigns), next_cursor: page.next_cursor ?? null };
  }

  async campaignAction(id: string, action: CampaignAction) {
    if (!isJobId(id)) throw new NotFoundError(`no campaign ${id}`, "campaign_not_found");
    return { campaign: wire(await this.#campaigns().act(id, action)) };
  }

  #campaigns(): CampaignService {
    const { campaigns } = this.#options;
    if (!campaigns) throw new NotFoundError("campaigns are not available on this service");
    return campaigns;
  }
}
