import type { Metadata } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { CampaignService } from "../../campaign/campaign-service.ts";
import { FailedPreconditionError, NotFoundError, UnavailableError } from "../../errors/error-kind.ts";
import type { EmailWorkerServiceServer } from "../../gen/emailworker/v1/email_worker.ts";
import type { JsonValue } from "../../job/email-job.ts";
import { requireJobId } from "../../job/job-id.ts";
import { JobValidationError } from "../../job/job-validation-error.ts";
import { parseAddress } from "../../job/parse-job.ts";
import { jobStatusFromProto } from "../../proto/enums.ts";
import type { ProviderChecks } from "../../provider/provider-checks.ts";
import type { EmailService } from "../../service/email-service.ts";
import type { TemplateService } from "../../service/template-service.ts";
import {
  SUPPRESSION_REASONS,
  type SuppressionReason,
  type SuppressionRecord,
} from "../../store/suppression-repository.ts";
import { carrierFrom } from "../../tracing/trace-context.ts";
import { SpanKind, type Tracing } from "../../tracing/tracing.ts";
import type { ApiKeyAuth } from "../auth/api-key-auth.ts";
import { authorizedCalls } from "./authorized-calls.ts";
import { campaignHandlers } from "./campaign-handlers.ts";
import { deadLetterView, jobInputFromProto, jobViewFromRecord, templateFromRecord } from "./conversions.ts";

interface HandlerDeps {
  emails: EmailService;
  campaigns: CampaignService;
  templates: TemplateService;
  providerChecks: ProviderChecks;
  auth: ApiKeyAuth;
  /** True once shutdown began: new sends go to another instance. */
  draining: () => boolean;
  /** OpenTelemetry: SendEmail and SendBatch continue the caller's trace; off when absent. */
  tracing?: Tracing | undefined;
  logger: Logger;
}

function suppressionView(record: SuppressionRecord) {
  return {
    email: record.email,
    reason: record.reason,
    source: record.source,
    details: record.details ?? "",
    created_at: record.created_at,
  };
}

/** The EmailWorkerService methods: each checks the caller's key and scope, then calls the service. */
export function emailWorkerHandlers(deps: HandlerDeps): EmailWorkerServiceServer {
  const { emails, templates, providerChecks, logger } = deps;

  const { unary } = authorizedCalls(deps.auth, logger);

  /** The caller's trace (traceparent in the metadata) goes on through the jobs the call makes. */
  const intakeSpan = <T>(method: string, metadata: Metadata, run: () => Promise<T>): Promise<T> =>
    deps.tracing?.enabled
      ? deps.tracing.span(
          `emailworker.v1.EmailWorkerService/${method}`,
          {
            kind: SpanKind.SERVER,
            parent: carrierFrom((name) => {
              const value = metadata.get(name)[0];
              return value === undefined ? undefined : String(value);
            }),
            attributes: { "rpc.system": "grpc", "rpc.method": method },
          },
          run,
        )
      : run();

  const refuseWhileDraining = () => {
    if (deps.draining())
      throw new UnavailableError("shutting down; send to another instance", { code: "draining" });
  };

  return {
    ...campaignHandlers({ campaigns: deps.campaigns, auth: deps.auth, logger }),

    sendEmail: unary("send", async (request, metadata) => {
      refuseWhileDraining();
      return intakeSpan("SendEmail", metadata, () => emails.send(jobInputFromProto(request.job)));
    }),

    sendBatch: unary("send", async (request, metadata) => {
      refuseWhileDraining();
      const results = await intakeSpan("SendBatch", metadata, () =>
        emails.sendBatch(request.jobs.map(jobInputFromProto), request.batch_id || undefined),
      );
      const items = results.map((r) =>
        r.ok
          ? { accepted: r.result }
          : {
              error: {
                message: r.error.message,
                violations: r.error instanceof JobValidationError ? [...r.error.violations] : [],
              },
            },
      );
      const accepted = results.filter((r) => r.ok).length;
      return { items, accepted, rejected: results.length - accepted, batch_id: request.batch_id };
    }),

    getBatch: unary("send", async (request) => ({ batch: await emails.getBatch(request.batch_id) })),

    cancelBatch: unary("send", async (request) => emails.cancelBatch(request.batch_id)),

    getEmailJob: unary("send", async (request) => {
      if (request.idempotency_key) {
        if (request.id)
          throw new JobValidationError([
            { field: "idempotency_key", description: "give either id or idempotency_key, not both" },
          ]);
        const view = await emails.getJobByIdempotencyKey(request.idempotency_key);
        if (!view)
          throw new NotFoundError(
            `no tracked job was sent with idempotency key "${request.idempotency_key}"`,
          );
        return { job: jobViewFromRecord(view.job, view.events) };
      }
      const view = await emails.getJob(requireJobId(request.id));
      if (!view) throw new NotFoundError(`no tracked job ${request.id}`);
      return { job: jobViewFromRecord(view.job, view.events) };
    }),

    listEmailJobs: unary("send", async (request) => {
      const statuses = request.status.map(jobStatusFromProto);
      const unknown = request.status.filter((_, i) => statuses[i] === undefined);
      if (unknown.length > 0)
        throw new JobValidationError([
          { field: "status", description: `unknown status ${unknown.join(", ")}` },
        ]);
      const page = await emails.listJobs({
        ...(statuses.length > 0 && { status: statuses.filter((s) => s !== undefined) }),
        ...(request.type && { job_type: request.type }),
        ...(request.batch_id && { batch_id: request.batch_id }),
        ...(request.campaign_id && { campaign_id: requireJobId(request.campaign_id, "campaign_id") }),
        ...(request.tags.length > 0 && { tags: request.tags }),
        ...(request.recipient_email && { recipient_email: request.recipient_email }),
        ...(request.created_after && { created_after: request.created_after }),
        ...(request.created_before && { created_before: request.created_before }),
        ...(request.page_size > 0 && { limit: request.page_size }),
        ...(request.page_token && { cursor: request.page_token }),
      });
      return {
        jobs: page.jobs.map((job) => jobViewFromRecord(job)),
        next_page_token: page.next_cursor ?? "",
      };
    }),

    cancelEmailJob: unary("send", async (request) => {
      const result = await emails.cancel(requireJobId(request.id));
      if (result.outcome === "not_found") throw new NotFoundError(`no tracked job ${request.id}`);
      if (result.outcome === "not_cancellable")
        throw new FailedPreconditionError(
          `job ${request.id} is ${result.job.status} and can no longer be cancelled`,
        );
      return { job: jobViewFromRecord(result.job) };
    }),

    retryEmailJob: unary("admin", async (request) => {
      const result = await emails.retry(requireJobId(request.id));
      if (result.outcome === "not_found") throw new NotFoundError(`no tracked job ${request.id}`);
      if (result.outcome === "not_retryable")
        throw new FailedPreconditionError(
          `job ${request.id} is ${result.job.status}; only failed jobs can be retried`,
        );
      return { job: jobViewFromRecord(result.job) };
    }),

    listDeadLetters: unary("admin", async (request) => {
      const page = await emails.listDeadLetters({
        limit: Math.min(request.page_size > 0 ? request.page_size : 50, 1_000),
        reasonContains: request.reason_contains || undefined,
        pageToken: request.page_token || undefined,
      });
      return {
        dead_letters: page.letters.map(deadLetterView),
        next_page_token: page.next_page_token ?? "",
        total_count: page.total_count,
      };
    }),

    replayDeadLetters: unary("admin", async (request) => {
      const result = await emails.replayDeadLetters({
        ids: request.ids,
        reasonContains: request.reason_contains || undefined,
        type: request.type || undefined,
        failedAfter: request.failed_after,
        failedBefore: request.failed_before,
        all: request.all,
        limit: Math.min(request.limit > 0 ? request.limit : 100, 1_000),
        dryRun: request.dry_run,
      });
      return { replayed_ids: result.replayed, missing_ids: result.missing, dry_run: request.dry_run };
    }),

    verifyProviders: unary("admin", async () => ({
      checks: (await providerChecks.run()).map((check) => ({ ...check, code: check.code ?? "" })),
    })),

    getQueueStats: unary("send", async () => {
      const { queue, tracked_by_status, driver } = await emails.stats();
      return {
        stats: {
          lanes: queue.lanes,
          in_flight: queue.in_flight,
          delayed: queue.delayed,
          dead_letters: queue.dead,
          tracked_by_status,
          driver,
        },
      };
    }),

    upsertTemplate: unary("admin", async (request) => {
      const t = request.template;
      if (!t?.id) throw new JobValidationError([{ field: "template.id", description: "is required" }]);
      if (!t.name) throw new JobValidationError([{ field: "template.name", description: "is required" }]);
      const saved = await templates.upsert({
        id: t.id,
        name: t.name,
        subject: t.subject || null,
        html_template: t.html_template || null,
        text_template: t.text_template || null,
        variables: t.variables,
        // proto3 `optional`: a template upserted without saying is active, as a new one would be.
        is_active: t.is_active ?? true,
      });
      return { template: templateFromRecord(saved) };
    }),

    getTemplate: unary("send", async (request) => ({
      template: templateFromRecord(await templates.get(request.id)),
    })),

    listTemplates: unary("send", async (request) => {
      const page = await templates.list({
        active: request.active,
        limit: Math.min(request.page_size > 0 ? request.page_size : 100, 500),
        cursor: request.page_token || undefined,
      });
      return {
        templates: page.templates.map(templateFromRecord),
        next_page_token: page.next_cursor ?? "",
        total_count: page.total_count,
      };
    }),

    deleteTemplate: unary("admin", async (request) => ({ deleted: await templates.delete(request.id) })),

    previewTemplate: unary("send", async (request) => {
      const data = (request.data ?? {}) as Record<string, JsonValue>;
      const draft = request.template;
      const rendered = await templates.preview(
        request.template_id || undefined,
        draft
          ? {
              id: draft.id || "preview",
              subject: draft.subject || null,
              html_template: draft.html_template || null,
              text_template: draft.text_template || null,
              variables: draft.variables,
            }
          : undefined,
        data,
      );
      return { subject: rendered.subject, html: rendered.html ?? "", text: rendered.text };
    }),

    listSuppressions: unary("admin", async (request) => {
      const page = await emails.listSuppressions({
        ...(request.page_size > 0 && { limit: request.page_size }),
        ...(request.page_token && { cursor: request.page_token }),
        ...(request.contains && { contains: request.contains }),
      });
      return {
        suppressions: page.suppressions.map(suppressionView),
        next_page_token: page.next_cursor ?? "",
      };
    }),

    addSuppression: unary("admin", async (request) => {
      const reason = request.reason || "manual";
      if (!SUPPRESSION_REASONS.includes(reason as SuppressionReason))
        throw new JobValidationError([
          { field: "reason", description: `must be one of ${SUPPRESSION_REASONS.join(", ")}` },
        ]);
      const email = parseAddress(request.email, "email");
      const record = await emails.addSuppression(
        email,
        reason as SuppressionReason,
        "api",
        request.details || undefined,
      );
      return { suppression: suppressionView(record) };
    }),

    removeSuppression: unary("admin", async (request) => ({
      removed: await emails.removeSuppression(request.email),
    })),
  };
}
