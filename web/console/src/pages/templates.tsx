import { useEffect, useState } from "preact/hooks";
import type { TemplatePageView, TemplateView } from "../../../../internal/console/console-api.ts";
import { get, query, segment } from "../api.ts";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { count, dateTime, list, yesNo } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { type Page, usePagedList } from "../paged-list.ts";
import { Link, navigate } from "../router.tsx";
import { useSession } from "../session.tsx";

// Templates have no filter: the list's filter is `undefined`.
const listTemplates = async (
  _filter: undefined,
  cursor: string | null,
): Promise<Page<TemplateView> & { total: number }> => {
  const page = await get<TemplatePageView>(`/templates${query({ cursor })}`);
  return { rows: page.templates, next: page.next_cursor, total: page.total };
};

/**
 * The editor for a new template. No template's link has three segments (a link carries the id as
 * one segment, its "/" encoded), so a template whose id is "new" still opens at /templates/new.
 */
export const NEW_TEMPLATE_PATH = "/templates/-/new";

export function TemplatesPage() {
  useTitle("Templates");
  const session = useSession();
  const [total, setTotal] = useState(0);
  const {
    rows: templates,
    next,
    busy,
    error,
    load,
  } = usePagedList(listTemplates, { onPage: (page) => setTotal(page.total) });

  useEffect(() => {
    void load(undefined, null);
  }, [load]);

  return (
    <section>
      <PageHeader title="Templates">
        {session.can.admin && (
          <button type="button" class="primary" onClick={() => navigate(NEW_TEMPLATE_PATH)}>
            New template
          </button>
        )}
      </PageHeader>
      <ErrorMessage error={error} />
      {templates === null ? (
        error === null && <Loading what="templates" />
      ) : templates.length === 0 ? (
        <p class="muted">No templates yet.</p>
      ) : (
        <>
          <p class="muted">
            Showing {count(templates.length)} of {count(total)}.
          </p>
          <table>
            <caption class="sr-only">Templates</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Name</th>
                <th scope="col">Active</th>
                <th scope="col">Required variables</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {templates.map((t) => (
                <tr key={t.id}>
                  <td class="break">
                    <Link to={`/templates/${segment(t.id)}`}>{t.id}</Link>
                  </td>
                  <td>{t.name}</td>
                  <td>{yesNo(t.is_active)}</td>
                  <td>{list(t.variables)}</td>
                  <td class="nowrap">{dateTime(t.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {next !== null && (
        <button type="button" class="load-more" disabled={busy} onClick={() => void load(undefined, next)}>
          {busy ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
