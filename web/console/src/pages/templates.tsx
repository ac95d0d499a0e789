import { useEffect, useRef, useState } from "preact/hooks";
import type { TemplatePageView, TemplateView } from "../../../../internal/console/console-api.ts";
import { get, messageOf, query, segment } from "../api.ts";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { count, dateTime, list, yesNo } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { Link, navigate } from "../router.tsx";
import { useSession } from "../session.tsx";

export function TemplatesPage() {
  useTitle("Templates");
  const session = useSession();
  const [templates, setTemplates] = useState<TemplateView[] | null>(null);
  const [total, setTotal] = useState(0);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const alive = useRef(true);

  const load = async (cursor: string | null): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const page = await get<TemplatePageView>(`/templates${query({ cursor })}`);
      if (!alive.current) return;
      setTemplates((before) =>
        cursor === null || before === null ? page.templates : [...before, ...page.templates],
      );
      setTotal(page.total);
      setNext(page.next_cursor);
    } catch (e) {
      if (alive.current) setError(messageOf(e));
    } finally {
      if (alive.current) setBusy(false);
    }
  };

  useEffect(() => {
    alive.current = true;
    void load(null);
    return () => {
      alive.current = false;
    };
  }, []);

  return (
    <section>
      <PageHeader title="Templates">
        {session.can.admin && (
          <button type="button" class="primary" onClick={() => navigate("/templates/new")}>
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
        <button type="button" class="load-more" disabled={busy} onClick={() => void load(next)}>
          {busy ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
