import { randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import { JOB_LIMITS } from "../job/parse-job.ts";
import type { RenderedEmail, TemplateParts } from "./compile-template.ts";
import { TemplateError } from "./errors.ts";
import { type FlatTemplate, flatTemplate, renderFlat } from "./flat-template.ts";
import type { RenderRequest } from "./render-messages.ts";
import type { RenderPool } from "./render-pool.ts";
import { type NamedSource, oversizedTemplate, templateTooLargeMessage } from "./template-size.ts";

export type { RenderedEmail } from "./compile-template.ts";

/** What a template row provides; `email_templates` rows satisfy it. */
export interface TemplateDefinition {
  id: string;
  subject: string | null;
  html_template: string | null;
  text_template: string | null;
  variables: unknown;
  is_active: boolean;
  updated_at: Date;
}

export interface TemplateSource {
  get(id: string): Promise<TemplateDefinition | undefined>;
}

interface InlineContent {
  subject?: string | null | undefined;
  html?: string | null | undefined;
  text?: string | null | undefined;
}

/** The parts of a row (or a draft, or one being checked) that rendering reads. */
interface TemplateRow {
  subject?: string | null | undefined;
  html_template?: string | null | undefined;
  text_template?: string | null | undefined;
  variables: unknown;
}

interface TemplateRendererOptions {
  source: TemplateSource;
  /** Where compiling and rendering happen: never on the caller's event loop. */
  pool: RenderPool;
  /** Largest template source, its parts together (email.template_max_bytes). */
  maxTemplateBytes: number;
}

/** Stored templates kept read as flat (or as not), by row version: most emails use a few. */
const FLAT_CACHE_ENTRIES = 1_000;
/** What they hold on to together, in bytes (FlatTemplate.size). */
const FLAT_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Renders subject, HTML and text from a stored template or from content given inline in the job.
 * HTML is escaped (Handlebars' `{{x}}`), subject and text are not. A template whose text part is empty
 * gets one derived from its rendered HTML. Content that only fills in values (see FlatTemplate), most
 * transactional email, is filled in here, in time proportional to its output; everything else goes
 * to the render pool's threads, under a time and output budget, so Handlebars never runs on the
 * caller's event loop. Each thread caches compiled templates under the row's id and updated_at
 * (inline content under its hash), so an edited row is compiled afresh and the old entry ages out.
 */
export class TemplateRenderer {
  readonly #source: TemplateSource;
  readonly #pool: RenderPool;
  readonly #maxTemplateBytes: number;
  /** Keeps this renderer's rows apart in a pool shared with another source (tests, the CLI). */
  readonly #cachePrefix = randomUUID();
  /** Stored rows read as flat, by the key the threads use; `false`: not flat. */
  readonly #flat = new LRUCache<string, FlatTemplate | false>({
    max: FLAT_CACHE_ENTRIES,
    maxSize: FLAT_CACHE_BYTES,
    sizeCalculation: (flat, key) => 2 * key.length + (flat ? flat.size : 0),
  });

  constructor(options: TemplateRendererOptions) {
    this.#source = options.source;
    this.#pool = options.pool;
    this.#maxTemplateBytes = options.maxTemplateBytes;
  }

  /** `priority`: the job's (PRIORITY_VALUES); a more urgent render goes to a thread first. */
  async renderTemplate(
    templateId: string,
    data: Record<string, unknown>,
    priority = 0,
  ): Promise<RenderedEmail> {
    const definition = await this.#source.get(templateId);
    if (definition === undefined)
      throw new TemplateError("template_not_found", `template "${templateId}" does not exist`, {
        template_id: templateId,
      });
    if (!definition.is_active)
      throw new TemplateError("template_inactive", `template "${templateId}" is not active`, {
        template_id: templateId,
      });
    return this.#run(
      "stored",
      `${this.#cachePrefix}:${templateId}@${definition.updated_at.getTime()}`,
      templateId,
      definition,
      data,
      priority,
    );
  }

  /** Compiles a template without keeping it: throws the TemplateError rendering would. */
  async check(template: {
    id: string;
    subject?: string | null | undefined;
    html_template?: string | null | undefined;
    text_template?: string | null | undefined;
  }): Promise<void> {
    await this.#run("check", undefined, template.id, { ...template, variables: null }, {});
  }

  /** Renders a template that is not stored (previews). */
  renderDraft(
    draft: Omit<TemplateDefinition, "updated_at" | "is_active">,
    data: Record<string, unknown>,
  ): Promise<RenderedEmail> {
    return this.#run("draft", undefined, draft.id, draft, data);
  }

  async renderInline(
    content: InlineContent,
    data: Record<string, unknown> = {},
    priority = 0,
  ): Promise<RenderedEmail> {
    if (!content.html && !content.text)
      throw new TemplateError("missing_content", "inline content has neither html nor text");
    const named: NamedSource[] = [
      ["subject", content.subject],
      ["html", content.html],
      ["text", content.text],
    ];
    this.#refuseOversized(named, true, undefined);
    const parts: TemplateParts = { subject: content.subject, html: content.html, text: content.text };
    // One read of the content, its values capped (see flatPart): cheap enough to do per email
    // rather than keep every campaign's and every client's content.
    const flat = flatTemplate(parts);
    const email = flat && renderFlat(flat, data, undefined, JOB_LIMITS);
    if (email) return email;
    return this.#pool.render({ op: "inline", key: undefined, templateId: undefined, parts, data }, priority);
  }

  async #run(
    op: RenderRequest["op"],
    key: string | undefined,
    templateId: string,
    row: TemplateRow,
    data: Record<string, unknown>,
    priority = 0,
  ): Promise<RenderedEmail> {
    this.#refuseOversized(
      [
        ["subject", row.subject],
        ["html_template", row.html_template],
        ["text_template", row.text_template],
      ],
      false,
      templateId,
    );
    const parts: TemplateParts = {
      subject: row.subject,
      html: row.html_template,
      text: row.text_template,
      variables: row.variables,
    };
    const flat = this.#flatFor(key, parts);
    if (flat && op === "check") return { subject: "", html: undefined, text: "" };
    const email = flat && renderFlat(flat, data, templateId, JOB_LIMITS);
    if (email) return email;
    return this.#pool.render({ op, key, templateId, parts, data }, priority);
  }

  #flatFor(key: string | undefined, parts: TemplateParts): FlatTemplate | undefined {
    if (key === undefined) return flatTemplate(parts);
    let flat = this.#flat.get(key);
    if (flat === undefined) {
      flat = flatTemplate(parts) ?? false;
      this.#flat.set(key, flat);
    }
    return flat || undefined;
  }

  /** Compiling time grows with the source: one too large is refused before a thread sees it. */
  #refuseOversized(named: NamedSource[], onlyTemplates: boolean, templateId: string | undefined): void {
    const oversized = oversizedTemplate(named, this.#maxTemplateBytes, onlyTemplates);
    if (oversized === undefined) return;
    const where = templateId === undefined ? "inline content" : `template "${templateId}"`;
    throw new TemplateError(
      "template_too_large",
      `${where}: ${templateTooLargeMessage(oversized, this.#maxTemplateBytes)}`,
      { template_id: templateId, field: oversized.largest },
    );
  }
}
