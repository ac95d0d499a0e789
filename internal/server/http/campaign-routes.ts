import type { IncomingMessage, ServerResponse } from "node:http";
import { audienceFormatOf } from "../../campaign/audience-reader.ts";
import type { CampaignService } from "../../campaign/campaign-service.ts";
import {
  type CampaignAction,
  type CampaignStatus,
  isCampaignStatus,
} from "../../campaign/campaign-status.ts";
import { KindedError, UnavailableError } from "../../errors/error-kind.ts";
import { requireJobId } from "../../job/job-id.ts";
import { JobValidationError } from "../../job/job-validation-error.ts";
import { type ApiKeyAuth, authorizeRequest } from "../auth/api-key-auth.ts";
import type { HealthMonitor } from "./health-monitor.ts";
import { type RouteFamily, readJson, sendJson } from "./http-io.ts";

export interface CampaignRoutesOptions {
  campaigns: CampaignService;
  auth: ApiKeyAuth;
  /** Only whether the service drains. */
  health: HealthMonitor;
}

const CAMPAIGN_PATH = /^\/v1\/campaigns\/([^/]+)$/;
const RECIPIENTS_PATH = /^\/v1\/campaigns\/([^/]+)\/recipients$/;
const ACTION_PATH = /^\/v1\/campaigns\/([^/]+)\/(start|pause|resume|cancel)$/;
const SCHEDULE_PATH = /^\/v1\/campaign-schedules\/([^/]+)$/;

/**
 * The campaign JSON API (`campaign` or `admin` scope): `POST /v1/campaigns` creates one (recipients
 * may come inline), `POST /v1/campaigns/<id>/recipients` adds an audience streamed as CSV (header
 * row) or JSON lines, or a JSON `{"recipients": [...]}`; `POST /v1/campaigns/<id>/start|pause|
 * resume|cancel`; `GET /v1/campaigns/<id>` is the campaign with its counts, rate and ETA;
 * `GET /v1/campaigns` lists them.
 */
export class CampaignRoutes implements RouteFamily {
  readonly #options: CampaignRoutesOptions;

  constructor(options: CampaignRoutesOptions) {
    this.#options = options;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const { pathname } = url;
    if (pathname === "/v1/campaign-schedules" || pathname.startsWith("/v1/campaign-schedules/"))
      return this.#schedules(req, res, pathname);
    if (pathname !== "/v1/campaigns" && !pathname.startsWith("/v1/campaigns/")) return false;
    this.#admit(req);
    const { campaigns } = this.#options;
    if (pathname === "/v1/campaigns") {
      if (req.method === "POST") {
        const created = await campaigns.create(await readJson(req));
        sendJson(res, 201, {
          ...created.campaign,
          ...(created.recipients && { recipients: created.recipients }),
        });
        return true;
      }
      if (req.method === "GET") {
        sendJson(res, 200, await this.#list(url.searchParams));
        return true;
      }
      return false;
    }
    const recipientsOf = RECIPIENTS_PATH.exec(pathname)?.[1];
    if (recipientsOf !== undefined && req.method === "POST") {
      const id = idFrom(recipientsOf);
      const result = await this.#upload(id, req);
      sendJson(res, 200, { ...result, campaign: await campaigns.get(id) });
      return true;
    }
    const action = ACTION_PATH.exec(pathname);
    if (action && req.method === "POST") {
      sendJson(res, 200, await campaigns.act(idFrom(action[1] as string), action[2] as CampaignAction));
      return true;
    }
    const one = CAMPAIGN_PATH.exec(pathname)?.[1];
    if (one !== undefined && req.method === "GET") {
      sendJson(res, 200, await campaigns.get(idFrom(one)));
      return true;
    }
    return false;
  }

  /** `POST`/`GET /v1/campaign-schedules`, `DELETE /v1/campaign-schedules/<id>`. */
  async #schedules(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    this.#admit(req);
    const { campaigns } = this.#options;
    if (pathname === "/v1/campaign-schedules") {
      if (req.method === "POST") sendJson(res, 201, await campaigns.createSchedule(await readJson(req)));
      else if (req.method === "GET") sendJson(res, 200, { schedules: await campaigns.listSchedules() });
      else return false;
      return true;
    }
    const id = SCHEDULE_PATH.exec(pathname)?.[1];
    if (id === undefined || req.method !== "DELETE") return false;
    sendJson(res, 200, { deleted: await campaigns.deleteSchedule(idFrom(id)) });
    return true;
  }

  /** Draining turns away changes only: callers can still watch their campaigns. */
  #admit(req: IncomingMessage): void {
    if (this.#options.health.draining && req.method === "POST")
      throw new UnavailableError("shutting down; send to another instance", { code: "draining" });
    authorizeRequest(this.#options.auth, req.headers, "campaign");
  }

  /** CSV and JSON lines are read as they arrive, never whole; JSON is a list within the body limit. */
  async #upload(id: string, req: IncomingMessage) {
    const type = req.headers["content-type"];
    const format = audienceFormatOf(type);
    if (format !== undefined) return this.#options.campaigns.uploadRecipients(id, req, format);
    if (type === undefined || /^application\/json\b/i.test(type)) {
      const body = await readJson(req);
      const recipients = (body as { recipients?: unknown } | null)?.recipients;
      if (!Array.isArray(recipients))
        throw new JobValidationError([{ field: "recipients", description: "must be a list of recipients" }]);
      return this.#options.campaigns.addRecipientList(id, recipients);
    }
    throw new KindedError(
      "invalid_argument",
      `content-type ${type} is not an audience: send text/csv (with a header row), application/x-ndjson (JSON lines) or application/json`,
      { code: "unsupported_content_type" },
    );
  }

  async #list(params: URLSearchParams) {
    const statuses = params.getAll("status").flatMap((s) => s.split(","));
    for (const status of statuses)
      if (!isCampaignStatus(status))
        throw new JobValidationError([
          { field: "status", description: `"${status}" is not a campaign status` },
        ]);
    const limit = params.get("limit");
    if (limit !== null && !/^\d+$/.test(limit))
      throw new JobValidationError([{ field: "limit", description: "must be a whole number" }]);
    const page = await this.#options.campaigns.list({
      ...(statuses.length > 0 && { status: statuses as CampaignStatus[] }),
      ...(params.get("type") && { job_type: params.get("type") as string }),
      ...(params.get("tag") && { tag: params.get("tag") as string }),
      ...(limit !== null && { limit: Number(limit) }),
      ...(params.get("page_token") && { cursor: params.get("page_token") as string }),
    });
    return { campaigns: page.campaigns, next_page_token: page.next_cursor ?? null };
  }
}

function idFrom(segment: string): string {
  return requireJobId(decodeURIComponent(segment), "id");
}
