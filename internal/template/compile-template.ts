import Handlebars from "handlebars";
import { TemplateError } from "./errors.ts";
import { goToHandlebars, isGoTemplate } from "./go-syntax.ts";
import { checkBytes, checkSubject, normalizeSubject, type OutputLimits } from "./rendered-output.ts";
import { checkRequiredVariables, requiredVariables } from "./required-variables.ts";

/** The parts of a template row or of inline content, as sent to a render thread. */
export interface TemplateParts {
  subject?: string | null | undefined;
  html?: string | null | undefined;
  text?: string | null | undefined;
  variables?: unknown;
}

export interface RenderedEmail {
  subject: string;
  html: string | undefined;
  text: string;
}

type Compiled = (data: Record<string, unknown>) => string;

export interface CompiledTemplate {
  subject: Compiled | undefined;
  html: Compiled | undefined;
  text: Compiled | undefined;
  required: string[];
}

/**
 * Prototype access off, stated rather than left to the defaults: stating it also stops Handlebars
 * logging each denied property.
 */
const RUNTIME_OPTIONS = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };

/** Built-in helpers that reach outside the template: `log` writes to the console. */
const REMOVED_HELPERS = ["log"];
/** Compiled as calls to a known helper unless declared unknown: then they fail as a missing helper. */
const KNOWN_HELPERS = Object.fromEntries(REMOVED_HELPERS.map((name) => [name, false]));

/**
 * A Handlebars environment that can only produce text: no helper that writes anywhere, and a logger
 * that says nothing (it is Handlebars' one shared logger, so this silences it for the whole thread).
 * `if`, `unless`, `each`, `with` and `lookup` stay: they read only the data they are given.
 */
export function sandboxedHandlebars(): typeof Handlebars {
  const handlebars = Handlebars.create();
  for (const name of REMOVED_HELPERS) handlebars.unregisterHelper(name);
  const silent = () => {};
  handlebars.log = silent;
  handlebars.logger.log = silent;
  return handlebars;
}

function where(templateId: string | undefined): string {
  return templateId === undefined ? "inline content" : `template "${templateId}"`;
}

/** Compiles every part; throws the TemplateError rendering would. */
export function compileTemplate(
  handlebars: typeof Handlebars,
  templateId: string | undefined,
  parts: TemplateParts,
): CompiledTemplate {
  if (!parts.html && !parts.text)
    throw new TemplateError("missing_content", `${where(templateId)} has neither html nor text`, {
      template_id: templateId,
    });
  const compile = (source: string | null | undefined, escapeHtml: boolean): Compiled | undefined => {
    if (!source) return undefined;
    // No expression in it: the text is its own output, and a Handlebars call (which sets up helpers
    // and prototype guards on every call) is the larger part of rendering a plain subject.
    if (!source.includes("{{")) return () => source;
    const translated = isGoTemplate(source) ? goToHandlebars(source, templateId) : source;
    try {
      const template = handlebars.compile(translated, {
        noEscape: !escapeHtml,
        strict: false,
        knownHelpers: KNOWN_HELPERS,
      });
      const render: Compiled = (data) => template(data, RUNTIME_OPTIONS);
      // Compiling is lazy in Handlebars; force it so a syntax error surfaces here, once.
      render({});
      return render;
    } catch (error) {
      if (error instanceof TemplateError) throw error;
      throw new TemplateError(
        "template_syntax",
        `${where(templateId)}: ${(error as Error).message.split("\n")[0]}`,
        { template_id: templateId, cause: error },
      );
    }
  };
  return {
    subject: compile(parts.subject, false),
    html: compile(parts.html, true),
    text: compile(parts.text, false),
    required: requiredVariables(parts.variables),
  };
}

/** Renders a compiled template, refusing output over `limits`. */
export function renderCompiled(
  compiled: CompiledTemplate,
  data: Record<string, unknown>,
  templateId: string | undefined,
  limits: OutputLimits,
  htmlToText: (html: string) => string,
): RenderedEmail {
  checkRequiredVariables(compiled.required, data, templateId);
  const html = compiled.html?.(data);
  if (html !== undefined) checkBytes(html, limits.html_bytes, "html", templateId);
  const subject = compiled.subject ? normalizeSubject(compiled.subject(data)) : "";
  checkSubject(subject, limits.subject_length, templateId);
  const text = compiled.text ? compiled.text(data) : htmlToText(html ?? "");
  checkBytes(text, limits.text_bytes, "text", templateId);
  return { subject, html, text };
}
