import { randomUUID } from "node:crypto";
import type { RenderedEmail, TemplateParts } from "./compile-template.ts";
import { TemplateError } from "./errors.ts";
import type { RenderRequest } from "./render-messages.ts";
import type { RenderPool } from "./render-pool.ts";
import { isTemplate, type NamedSource, oversizedTemplate, templateTooLargeMessage } from "./template-size.ts";

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

/**
 * Renders subject, HTML and text from a stored template or from content given inline in the job.
 * HTML is escaped (Handlebars' `{{x}}`), subject and text are not. A template whose text part is empty
 * gets one derived from its rendered HTML. The work is done by the render pool's threads, under a
 * time and output budget; each thread caches compiled templates under the row's id and updated_at
 * (inline content under its hash), so an edited row is compiled afresh and the old entry ages out.
 */
export class TemplateRenderer {
  readonly #source: TemplateSource;
  readonly #pool: RenderPool;
  readonly #maxTemplateBytes: number;
  /** Keeps this renderer's rows apart in a pool shared with another source (tests, the CLI). */
  readonly #cachePrefix = randomUUID();

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
    const plain = passThrough(content);
    if (plain !== undefined) return plain;
    const named: NamedSource[] = [
      ["subject", content.subject],
      ["html", content.html],
      ["text", content.text],
    ];
    this.#refuseOversized(named, true, undefined);
    const parts: TemplateParts = { subject: content.subject, html: content.html, text: content.text };
    return this.#pool.render({ op: "inline", key: undefined, templateId: undefined, parts, data }, priority);
  }

  #run(
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
    return this.#pool.render({ op, key, templateId, parts, data }, priority);
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

/**
 * Inline content with no expression anywhere and a text part of its own is its own output: it is
 * returned here, as the thread would, without the hop. (Deriving text from HTML is real work, so
 * content without a text part goes to the pool.) Throws for content with neither html nor text.
 */
function passThrough(content: InlineContent): RenderedEmail | undefined {
  if (!content.html && !content.text)
    throw new TemplateError("missing_content", "inline content has neither html nor text");
  if (!content.text || isTemplate(content.subject) || isTemplate(content.html) || isTemplate(content.text))
    return undefined;
  const subject = content.subject ? content.subject.replace(/\s*[\r\n]+\s*/g, " ").trim() : "";
  return { subject, html: content.html || undefined, text: content.text };
}
