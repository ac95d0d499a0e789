import type { IncomingMessage, ServerResponse } from "node:http";
import { NotFoundError, UnavailableError } from "../../errors/error-kind.ts";
import { requireJobId } from "../../job/job-id.ts";
import { JobValidationError } from "../../job/job-validation-error.ts";
import { BatchInterruptedError, type EmailService } from "../../service/email-service.ts";
import { jobView } from "../../service/job-view.ts";
import { carrierFrom } from "../../tracing/trace-context.ts";
import { SpanKind, type Tracing } from "../../tracing/tracing.ts";
import { type ApiKeyAuth, authorizeRequest } from "../auth/api-key-auth.ts";
import type { HealthMonitor } from "./health-monitor.ts";
import { errorResponse } from "./http-errors.ts";
import { type RouteFamily, readJson, sendJson } from "./http-io.ts";

export interface IntakeRoutesOptions {
  service: EmailService;
  auth: ApiKeyAuth;
  /** Only whether the service drains. */
  health: HealthMonitor;
  /** OpenTelemetry: POST /v1/emails continues the caller's trace; off when absent. */
  tracing?: Tracing | undefined;
}

const JOB_PATH = /^\/v1\/emails\/([^/]+)$/;
const BATCH_PATH = /^\/v1\/batches\/([^/]+)(\/cancel)?$/;

/**
 * The JSON intake. `POST /v1/emails` takes one job (or `{"jobs": [...]}`) in the wire format and
 * answers 202 with the job id (207 with a result per job for a batch); `GET /v1/emails/<id>` shows a
 * tracked job and its events. While the service drains, intake answers 503 but the probes stay up, so
 * the orchestrator can watch the drain.
 */
export class IntakeRoutes implements RouteFamily {
  readonly #options: IntakeRoutesOptions;

  constructor(options: IntakeRoutesOptions) {
    this.#options = options;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const batch = BATCH_PATH.exec(url.pathname);
    if (batch) return this.#batch(req, res, decodeURIComponent(batch[1] as string), batch[2] !== undefined);
    if (url.pathname !== "/v1/emails" && !url.pathname.startsWith("/v1/emails/")) return false;
    this.#admit(req);
    if (url.pathname === "/v1/emails" && req.method === "POST") {
      const tracing = this.#options.tracing;
      if (!tracing?.enabled) await this.#post(req, res);
      // The caller's trace (traceparent header) goes on through the jobs the request makes.
      else
        await tracing.span(
          "POST /v1/emails",
          {
            kind: SpanKind.SERVER,
            parent: carrierFrom((name) => {
              const value = req.headers[name];
              return typeof value === "string" ? value : undefined;
            }),
            attributes: { "http.request.method": "POST", "http.route": "/v1/emails" },
          },
          () => this.#post(req, res),
        );
      return true;
    }
    const id = JOB_PATH.exec(url.pathname)?.[1];
    if (id === undefined || req.method !== "GET") return false;
    await this.#get(requireJobId(decodeURIComponent(id)), res);
    return true;
  }

  /** Draining turns away new jobs only: callers can still look up the ones they sent. */
  #admit(req: IncomingMessage): void {
    if (this.#options.health.draining && req.method === "POST")
      throw new UnavailableError("shutting down; send to another instance", { code: "draining" });
    this.#authorize(req);
  }

  #authorize(req: IncomingMessage): void {
    authorizeRequest(this.#options.auth, req.headers, "send");
  }

  /** `GET /v1/batches/<id>`: its jobs by status; `POST /v1/batches/<id>/cancel`. */
  async #batch(req: IncomingMessage, res: ServerResponse, id: string, cancel: boolean): Promise<boolean> {
    if (req.method !== (cancel ? "POST" : "GET")) return false;
    // Cancelling is allowed while draining: it queues nothing.
    this.#authorize(req);
    const { service } = this.#options;
    sendJson(res, 200, cancel ? await service.cancelBatch(id) : await service.getBatch(id));
    return true;
  }

  async #post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    const batch = (body as { jobs?: unknown } | null)?.jobs;
    if (!Array.isArray(batch)) return sendJson(res, 202, await this.#options.service.send(body));
    const batchId = (body as { batch_id?: unknown }).batch_id;
    if (batchId !== undefined && typeof batchId !== "string")
      throw new JobValidationError([{ field: "batch_id", description: "must be a string" }]);
    let results: BatchItemResult[];
    try {
      results = await this.#options.service.sendBatch(batch, batchId);
    } catch (error) {
      if (!(error instanceof BatchInterruptedError)) throw error;
      // A server fault stopped the batch: its status, and the items before it (queued or refused),
      // so the client resends only the rest. The service has logged the fault.
      const { status, body } = errorResponse(error);
      return sendJson(res, status, { ...body, results: error.results.map(itemResult) });
    }
    // Each job succeeds or fails on its own: a failed one reads as it would have alone.
    sendJson(res, 207, {
      results: results.map(itemResult),
      ...(batchId !== undefined && { batch_id: batchId }),
    });
  }

  async #get(id: string, res: ServerResponse): Promise<void> {
    const view = await this.#options.service.getJob(id);
    if (!view) throw new NotFoundError(`no tracked job ${id}`);
    // The job view the gRPC API gives, in JSON words.
    sendJson(res, 200, { job: jobView(view.job, view.events) });
  }
}

type BatchItemResult = Awaited<ReturnType<EmailService["sendBatch"]>>[number];

/** One job of a batch as it would have been answered alone. */
function itemResult(result: BatchItemResult): unknown {
  return result.ok ? result.result : errorResponse(result.error).body;
}
