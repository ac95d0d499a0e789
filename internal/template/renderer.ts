import { hash } from "node:crypto";
import Handlebars from "handlebars";
import { LRUCache } from "lru-cache";
import { TemplateError } from "./errors.ts";
import { goToHandlebars, isGoTemplate } from "./go-syntax.ts";
import { createHtmlToText } from "./html-to-text.ts";
import { checkRequiredVariables, requiredVariables } from "./required-variables.ts";

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

export interface RenderedEmail {
  subject: string;
  html: string | undefined;
  text: string;
}

type Compiled = (data: Record<string, unknown>) => string;

interface CompiledTemplate {
  subject: Compiled | undefined;
  html: Compiled | undefined;
  text: Compiled | undefined;
  required: string[];
}

interface TemplateRendererOptions {
  source: TemplateSource;
}

/** Compiled templates kept; inline contents count too. */
const COMPILED_CACHE_SIZE = 1_000;

/**
 * Renders subject, HTML and text from a stored template or from content given inline in the job.
 * HTML is escaped (Handlebars' `{{x}}`), subject and text are not. A template whose text part is empty
 * gets one derived from its rendered HTML. Compiled templates are cached under the row's id and
 * updated_at, so an edited row is compiled afresh and the old entry ages out.
 */
export class TemplateRenderer {
  readonly #source: TemplateSource;
  readonly #handlebars = Handlebars.create();
  readonly #compiled: LRUCache<string, CompiledTemplate>;
  readonly #htmlToText = createHtmlToText();

  constructor(options: TemplateRendererOptions) {
    this.#source = options.source;
    this.#compiled = new LRUCache({ max: COMPILED_CACHE_SIZE });
  }

  async renderTemplate(templateId: string, data: Record<string, unknown>): Promise<RenderedEmail> {
    const definition = await this.#source.get(templateId);
    if (definition === undefined)
      throw new TemplateError("template_not_found", `template "${templateId}" does not exist`, {
        template_id: templateId,
      });
    if (!definition.is_active)
      throw new TemplateError("template_inactive", `template "${templateId}" is not active`, {
        template_id: templateId,
      });
    const key = `t:${templateId}@${definition.updated_at.getTime()}`;
    const compiled = this.#cached(key, templateId, {
      subject: definition.subject,
      html: definition.html_template,
      text: definition.text_template,
      variables: definition.variables,
    });
    return this.#render(compiled, data, templateId);
  }

  /** Compiles a template without keeping it: throws the TemplateError rendering would. */
  check(template: {
    id: string;
    subject?: string | null | undefined;
    html_template?: string | null | undefined;
    text_template?: string | null | undefined;
  }): void {
    this.#compile(template.id, {
      subject: template.subject,
      html: template.html_template,
      text: template.text_template,
      variables: null,
    });
  }

  /** Renders a template that is not stored (previews). */
  renderDraft(
    draft: Omit<TemplateDefinition, "updated_at" | "is_active">,
    data: Record<string, unknown>,
  ): RenderedEmail {
    const compiled = this.#compile(draft.id, {
      subject: draft.subject,
      html: draft.html_template,
      text: draft.text_template,
      variables: draft.variables,
    });
    return this.#render(compiled, data, draft.id);
  }

  renderInline(content: InlineContent, data: Record<string, unknown> = {}): RenderedEmail {
    const key = `i:${hash("sha256", JSON.stringify([content.subject, content.html, content.text]), "base64url")}`;
    const compiled = this.#cached(key, undefined, { ...content, variables: null });
    return this.#render(compiled, data, undefined);
  }

  #cached(key: string, templateId: string | undefined, parts: InlineContent & { variables: unknown }) {
    let compiled = this.#compiled.get(key);
    if (compiled === undefined) {
      compiled = this.#compile(templateId, parts);
      this.#compiled.set(key, compiled);
    }
    return compiled;
  }

  #compile(templateId: string | undefined, parts: InlineContent & { variables: unknown }): CompiledTemplate {
    if (!parts.html && !parts.text) {
      const where = templateId === undefined ? "inline content" : `template "${templateId}"`;
      throw new TemplateError("missing_content", `${where} has neither html nor text`, {
        template_id: templateId,
      });
    }
    const compile = (source: string | null | undefined, escapeHtml: boolean): Compiled | undefined => {
      if (!source) return undefined;
      // No expression in it: the text is its own output, and a Handlebars call (which sets up helpers
      // and prototype guards on every call) is the larger part of rendering a plain subject.
      if (!source.includes("{{")) return () => source;
      const handlebars = isGoTemplate(source) ? goToHandlebars(source, templateId) : source;
      try {
        const template = this.#handlebars.compile(handlebars, { noEscape: !escapeHtml, strict: false });
        // Compiling is lazy in Handlebars; force it so a syntax error surfaces here, once.
        template({});
        return template;
      } catch (error) {
        if (error instanceof TemplateError) throw error;
        const where = templateId === undefined ? "inline content" : `template "${templateId}"`;
        throw new TemplateError("template_syntax", `${where}: ${(error as Error).message.split("\n")[0]}`, {
          template_id: templateId,
          cause: error,
        });
      }
    };
    return {
      subject: compile(parts.subject, false),
      html: compile(parts.html, true),
      text: compile(parts.text, false),
      required: requiredVariables(parts.variables),
    };
  }

  #render(
    compiled: CompiledTemplate,
    data: Record<string, unknown>,
    templateId: string | undefined,
  ): RenderedEmail {
    checkRequiredVariables(compiled.required, data, templateId);
    const html = compiled.html?.(data);
    const subject =
      compiled
        .subject?.(data)
        .replace(/\s*[\r\n]+\s*/g, " ")
        .trim() ?? "";
    const text = compiled.text ? compiled.text(data) : this.#htmlToText(html ?? "");
    return { subject, html, text };
  }
}
