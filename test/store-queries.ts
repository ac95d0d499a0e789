import { type Selectable, sql } from "kysely";
import type { DatabaseRouter } from "../internal/store/database-router.ts";
import { ConflictError, isUniqueViolation } from "../internal/store/errors.ts";
import type { EmailJobRecord } from "../internal/store/job-repository.ts";
import { type EmailTrackingTable, toJson } from "../internal/store/schema.ts";
import {
  type EmailTemplateRecord,
  type NewTemplate,
  type TemplateFields,
  templateColumns,
} from "../internal/store/template-repository.ts";

/**
 * Store reads and writes that only tests need: setting a row up in a state the service reaches by a
 * longer road, or looking at rows the service never reads this way. Kept out of the repositories so
 * that production code cannot come to depend on them.
 */

/** A claimed job marked sent without a tracking event (the service marks both in one statement). */
export function markJobSent(router: DatabaseRouter, id: string): Promise<EmailJobRecord | undefined> {
  return router.master
    .updateTable("email_jobs")
    .set({
      status: "sent",
      sent_at: sql<Date>`now()`,
      error_message: null,
      next_attempt_at: null,
      locked_until: null,
      updated_at: sql<Date>`now()`,
    })
    .where("id", "=", id)
    .where("status", "=", "processing")
    .returningAll()
    .executeTakeFirst();
}

export async function deleteJob(router: DatabaseRouter, id: string): Promise<boolean> {
  const result = await router.master.deleteFrom("email_jobs").where("id", "=", id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Inserts a template; a ConflictError when the id is taken (the service only upserts). */
export async function createTemplate(
  router: DatabaseRouter,
  template: NewTemplate,
): Promise<EmailTemplateRecord> {
  try {
    return await router.master
      .insertInto("email_templates")
      .values({ id: template.id, ...templateColumns(template) })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`template ${template.id} already exists`);
    throw error;
  }
}

/** Changes the given fields only; undefined when there is no such template. */
export function updateTemplate(
  router: DatabaseRouter,
  id: string,
  patch: Partial<TemplateFields>,
): Promise<EmailTemplateRecord | undefined> {
  const changes = {
    ...(patch.name !== undefined && { name: patch.name }),
    ...(patch.subject !== undefined && { subject: patch.subject }),
    ...(patch.html_template !== undefined && { html_template: patch.html_template }),
    ...(patch.text_template !== undefined && { text_template: patch.text_template }),
    ...(patch.variables !== undefined && { variables: toJson(patch.variables) }),
    ...(patch.is_active !== undefined && { is_active: patch.is_active }),
  };
  return router.master
    .updateTable("email_templates")
    .set({ ...changes, updated_at: sql<Date>`now()` })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
}

/** The newest tracking event of each job, in one query. */
export async function latestTrackingEvents(
  router: DatabaseRouter,
  jobIds: readonly string[],
): Promise<Map<string, Selectable<EmailTrackingTable>>> {
  if (jobIds.length === 0) return new Map();
  const rows = await router.master
    .selectFrom("email_tracking")
    .distinctOn("job_id")
    .selectAll()
    .where("job_id", "in", [...jobIds])
    .orderBy("job_id")
    .orderBy(sql`coalesce(occurred_at, created_at)`, "desc")
    .orderBy("id", "desc")
    .execute();
  return new Map(rows.map((row) => [row.job_id ?? "", row]));
}

export async function latestTrackingEvent(
  router: DatabaseRouter,
  jobId: string,
): Promise<Selectable<EmailTrackingTable> | undefined> {
  return (await latestTrackingEvents(router, [jobId])).get(jobId);
}
