import { FailedPreconditionError, NotFoundError } from "../errors/error-kind.ts";
import type { EmailJob, JsonValue } from "../job/email-job.ts";
import type {
  EmailTemplateRecord,
  NewTemplate,
  TemplateListFilter,
  TemplatePage,
  TemplateRepository,
} from "../store/template-repository.ts";
import type { RenderedEmail, TemplateDefinition, TemplateRenderer } from "../template/renderer.ts";
import { renderJob } from "../worker/render-job.ts";

interface TemplateServiceOptions {
  templates: TemplateRepository;
  renderer: TemplateRenderer;
  /** Drops a cached copy so this process renders an edit at once (others within the cache TTL). */
  invalidate: (id: string) => void;
}

/** Template management and previews, for the API and the CLI. */
export class TemplateService {
  readonly #options: TemplateServiceOptions;

  constructor(options: TemplateServiceOptions) {
    this.#options = options;
  }

  async upsert(template: NewTemplate): Promise<EmailTemplateRecord> {
    // Compile before saving: a template that cannot render is refused, not stored.
    await this.#options.renderer.check(template);
    const saved = await this.#options.templates.upsert(template);
    this.#options.invalidate(template.id);
    return saved;
  }

  /** Like upsert, but never replaces: undefined, nothing written, when the id is taken. */
  async create(template: NewTemplate): Promise<EmailTemplateRecord | undefined> {
    await this.#options.renderer.check(template);
    const created = await this.#options.templates.create(template);
    if (created) this.#options.invalidate(template.id);
    return created;
  }

  async get(id: string): Promise<EmailTemplateRecord> {
    const template = await this.#options.templates.get(id, { consistency: "strong" });
    if (!template) throw new NotFoundError(`template "${id}" does not exist`, "template_not_found");
    return template;
  }

  /** One page by id; `cursor` is the previous page's `next_cursor` (a bad one: InvalidCursorError). */
  list(filter: TemplateListFilter = {}): Promise<TemplatePage> {
    return this.#options.templates.list(filter);
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.#options.templates.delete(id);
    this.#options.invalidate(id);
    return deleted;
  }

  /** Renders a stored template, or `draft` when given, with `data`. */
  async preview(
    id: string | undefined,
    draft: Omit<TemplateDefinition, "updated_at" | "is_active"> | undefined,
    data: Record<string, JsonValue>,
  ): Promise<RenderedEmail> {
    if (draft) return this.#options.renderer.renderDraft(draft, data);
    if (!id) throw new NotFoundError("give a template_id or a template to preview", "template_not_found");
    await this.get(id);
    return this.#options.renderer.renderTemplate(id, data);
  }

  /** A job's message as it renders now: its template with its data, or its own content. */
  async previewJob(job: EmailJob): Promise<RenderedEmail> {
    if (job.template_id?.startsWith("d-"))
      throw new FailedPreconditionError(
        `template ${job.template_id} is a SendGrid dynamic template: SendGrid renders it, not this service`,
      );
    const email = await renderJob(job, this.#options.renderer);
    return { subject: email.subject, html: email.html, text: email.text };
  }
}
