import { type Kysely, type Selectable, sql } from "kysely";
import type { JsonValue } from "../job/email-job.ts";
import type { DatabaseRouter, ReadOptions } from "./database-router.ts";
import { decodePageToken, encodePageToken } from "./page-token.ts";
import { type Database, type EmailTemplateTable, toJson } from "./schema.ts";

export type EmailTemplateRecord = Selectable<EmailTemplateTable>;

export interface TemplateFields {
  name: string;
  subject?: string | null;
  html_template?: string | null;
  text_template?: string | null;
  /** Required variable names (see internal/template). */
  variables?: JsonValue | null;
  is_active?: boolean;
}

export interface NewTemplate extends TemplateFields {
  id: string;
}

export interface TemplateListFilter {
  active?: boolean | undefined;
  /** Default 100, at most MAX_TEMPLATE_PAGE. */
  limit?: number | undefined;
  /** `next_cursor` of the previous page. */
  cursor?: string | undefined;
}

export interface TemplatePage {
  templates: EmailTemplateRecord[];
  /** Absent on the last page. */
  next_cursor: string | undefined;
  /** Templates matching `active`, on every page. */
  total_count: number;
}

export const MAX_TEMPLATE_PAGE = 500;

/** `email_templates`. Every change moves `updated_at`, which is what caches key on. */
export class TemplateRepository {
  readonly #router: DatabaseRouter;

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  /** Creates the template or replaces every field of the existing one. */
  async upsert(template: NewTemplate): Promise<EmailTemplateRecord> {
    const values = templateColumns(template);
    return this.#router.master
      .insertInto("email_templates")
      .values({ id: template.id, ...values })
      .onConflict((oc) => oc.column("id").doUpdateSet({ ...values, updated_at: sql<Date>`now()` }))
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Creates the template; undefined, and nothing written, when its id is already taken. */
  async create(template: NewTemplate): Promise<EmailTemplateRecord | undefined> {
    return this.#router.master
      .insertInto("email_templates")
      .values({ id: template.id, ...templateColumns(template) })
      .onConflict((oc) => oc.column("id").doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  async get(id: string, options: ReadOptions = {}): Promise<EmailTemplateRecord | undefined> {
    const query = (db: Kysely<Database>) =>
      db.selectFrom("email_templates").selectAll().where("id", "=", id).executeTakeFirst();
    return options.consistency === "strong" ? query(this.#router.master) : this.#router.read(query);
  }

  /** By id, keyset on it: stable while templates are added or removed. */
  async list(filter: TemplateListFilter = {}): Promise<TemplatePage> {
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), MAX_TEMPLATE_PAGE);
    const after = filter.cursor === undefined ? undefined : decodePageToken(filter.cursor);
    return this.#router.read(async (db) => {
      let matching = db.selectFrom("email_templates");
      if (filter.active !== undefined) matching = matching.where("is_active", "=", filter.active);
      let page = matching.selectAll();
      if (after !== undefined) page = page.where("id", ">", after);
      const [rows, count] = await Promise.all([
        page
          .orderBy("id")
          .limit(limit + 1)
          .execute(),
        matching.select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow(),
      ]);
      const templates = rows.slice(0, limit);
      const last = templates[templates.length - 1];
      return {
        templates,
        next_cursor: rows.length > limit && last ? encodePageToken(last.id) : undefined,
        total_count: Number(count.n),
      };
    });
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#router.master
      .deleteFrom("email_templates")
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

/** A template's fields as `email_templates` columns, with the defaults a new row gets. */
export function templateColumns(template: TemplateFields) {
  return {
    name: template.name,
    subject: template.subject ?? null,
    html_template: template.html_template ?? null,
    text_template: template.text_template ?? null,
    variables: toJson(template.variables),
    is_active: template.is_active ?? true,
  };
}
