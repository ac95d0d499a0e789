import { type Kysely, type Selectable, sql } from "kysely";
import type { JsonValue } from "../job/email-job.ts";
import type { DatabaseRouter, ReadOptions } from "./database-router.ts";
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

  async get(id: string, options: ReadOptions = {}): Promise<EmailTemplateRecord | undefined> {
    const query = (db: Kysely<Database>) =>
      db.selectFrom("email_templates").selectAll().where("id", "=", id).executeTakeFirst();
    return options.consistency === "strong" ? query(this.#router.master) : this.#router.read(query);
  }

  async list(filter: { active?: boolean } = {}): Promise<EmailTemplateRecord[]> {
    return this.#router.read((db) => {
      let query = db.selectFrom("email_templates").selectAll();
      if (filter.active !== undefined) query = query.where("is_active", "=", filter.active);
      return query.orderBy("id").execute();
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
