/**
 * The operator console's JSON API under /admin/api, as the browser sees it: the server builds these
 * shapes and the console's pages (web/console) read them, both type-checked against this one file.
 * Dates travel as ISO 8601 strings.
 */
import type { CampaignView } from "../campaign/campaign-view.ts";
import type { JobView } from "../service/job-view.ts";
import type { TemplateRecordView } from "../service/template-view.ts";

/** What JSON makes of a server-side value: dates become strings. */
export type Wire<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/**
 * GET /admin/api/session: who is signed in, or null (answered 200 either way: being signed out is
 * the sign-in page's normal state, not an error).
 */
export interface SessionState {
  session: SessionView | null;
}

/** A signed-in session; POST /admin/api/session answers it. */
export interface SessionView {
  /** The API key's name ("anonymous" when the service has no keys configured). */
  name: string;
  scopes: string[];
  /** False when the service has no API keys: everyone is let in, and there is no sign-out. */
  auth_required: boolean;
  can: {
    /** Cancel, retry, replay, edit templates, change suppressions (the `admin` scope). */
    admin: boolean;
    /** See and steer campaigns (`campaign` or `admin`). */
    campaigns: boolean;
  };
  /** Sent back as the `x-csrf-token` header on every request that changes something. */
  csrf_token: string;
  expires_at: string;
}

/** Body of POST /admin/api/session. */
export interface SignIn {
  api_key: string;
}

export interface ProviderState {
  name: string;
  /** closed (sending), open (resting after failures), half-open (trying again). */
  circuit: string;
  /** Share of recent sends that failed, 0…1. */
  error_rate: number;
  /** "ok", "pending", or why the last self-check failed. */
  check: string;
}

export interface ThroughputMinute {
  minute: string;
  sent: number;
  failed: number;
}

/** GET /admin/api/overview. */
export interface OverviewView {
  generated_at: string;
  driver: string;
  queue: { lanes: Record<string, number>; in_flight: number; delayed: number; dead: number };
  tracked_by_status: Record<string, number>;
  /** The last 60 minutes, oldest first, counted by every replica. */
  throughput: ThroughputMinute[];
  health: {
    status: string;
    version: string;
    uptime: string;
    queue: string;
    database: string;
    consumer: string;
    /** The read replica: "up", "down" (reads go to the master) or "none". */
    replica: string;
    draining: boolean;
  };
  providers: ProviderState[];
}

/** Body of POST /admin/api/jobs/search (a search may name an address: it is never put in a URL). */
export interface JobSearch {
  id?: string;
  recipient?: string;
  type?: string;
  status?: string[];
  tag?: string;
  campaign_id?: string;
  created_after?: string;
  created_before?: string;
  cursor?: string;
  limit?: number;
}

export type JobSummary = Omit<Wire<JobView>, "events" | "metadata">;

export interface JobPageView {
  jobs: JobSummary[];
  next_cursor: string | null;
}

/** GET /admin/api/jobs/<id>. */
export interface JobDetailView {
  job: Wire<JobView>;
  can_cancel: boolean;
  can_retry: boolean;
}

/** What a message looks like once rendered (a job's, a template's). */
export interface RenderedView {
  subject: string;
  html: string;
  text: string;
}

/** GET /admin/api/jobs/<id>/preview (admin): the message as it renders now, or why it cannot. */
export type JobPreviewView = { ok: true; rendered: RenderedView } | { ok: false; error: string };

export interface DeadLetterView {
  id: string;
  lane: string;
  reason: string;
  /** malformed, delivery_cap, exhausted, permanent, … */
  cause: string;
  error_code: string | null;
  attempt: number;
  failed_at: string;
  /** At most 3 KiB of it; body_bytes is its whole size. */
  body: string;
  body_bytes: number;
  body_truncated: boolean;
}

/** Body of POST /admin/api/dead-letters/search (a reason may name an address: never in a URL). */
export interface DeadLetterSearch {
  reason?: string;
  cursor?: string;
}

/** POST /admin/api/dead-letters/search. */
export interface DeadLetterPageView {
  dead_letters: DeadLetterView[];
  next_cursor: string | null;
  total: number;
}

/** Body of POST /admin/api/dead-letters/replay: the given ids, or those whose reason contains. */
export interface ReplayRequest {
  ids?: string[];
  reason_contains?: string;
  dry_run: boolean;
}

export interface ReplayResultView {
  replayed: string[];
  missing: string[];
  dry_run: boolean;
}

/** A stored template: its sources as text and its required variables' names. */
export type TemplateView = Wire<TemplateRecordView>;

export interface TemplatePageView {
  templates: TemplateView[];
  next_cursor: string | null;
  total: number;
}

/** Body of PUT /admin/api/templates/<id>. */
export interface TemplateEdit {
  name: string;
  subject: string;
  html_template: string;
  text_template: string;
  variables: string[];
  is_active: boolean;
  /** A new template: refused (409, `template_exists`) when the id is taken, instead of replacing it. */
  create?: boolean;
}

/** Body of POST /admin/api/templates/preview: a draft and sample data. */
export interface TemplatePreviewRequest {
  template: Omit<TemplateEdit, "name" | "is_active">;
  data: Record<string, unknown>;
}

/** The draft rendered, or the error that stops it; with what it needs and its Go syntax translated. */
export interface TemplatePreviewView {
  rendered: RenderedView | null;
  error: string | null;
  /** Variables the draft declares as required that the sample data lacks. */
  missing_variables: string[];
  /** Go-syntax parts ({{.Name}}) as the Handlebars the service runs; null when none is Go syntax. */
  translated: { subject: string; html_template: string; text_template: string } | null;
}

export interface SuppressionView {
  email: string;
  /** hard_bounce, complaint, unsubscribe, manual. */
  reason: string;
  /** Where it came from: a provider's webhook, the bounce listener, the API, the console. */
  source: string;
  details: string | null;
  created_at: string;
}

/** Body of POST /admin/api/suppressions/search. */
export interface SuppressionSearch {
  contains?: string;
  cursor?: string;
}

export interface SuppressionPageView {
  suppressions: SuppressionView[];
  next_cursor: string | null;
}

/** Body of POST /admin/api/suppressions. */
export interface NewSuppression {
  email: string;
  reason: string;
  details?: string;
}

/** Body of POST /admin/api/suppressions/remove. */
export interface SuppressionRemoval {
  email: string;
}

export type CampaignSummary = Wire<CampaignView>;

/** GET /admin/api/campaigns?status=…&cursor=…. */
export interface CampaignPageView {
  campaigns: CampaignSummary[];
  next_cursor: string | null;
}

/** Every error: what went wrong, in words for the operator. */
export interface ErrorView {
  error: string;
  kind: string;
  violations?: { field: string; description: string }[];
}
