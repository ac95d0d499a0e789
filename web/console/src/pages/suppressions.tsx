import { useEffect, useId, useState } from "preact/hooks";
import type {
  NewSuppression,
  SuppressionPageView,
  SuppressionRemoval,
  SuppressionSearch,
  SuppressionView,
} from "../../../../internal/console/console-api.ts";
import { useAnnounce } from "../announcer.tsx";
import { messageOf, post } from "../api.ts";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { SearchForm } from "../components/search-form.tsx";
import { dateTime, text } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { type Page, usePagedList } from "../paged-list.ts";

const REASONS = ["manual", "hard_bounce", "complaint", "unsubscribe"];

const searchSuppressions = async (filter: string, cursor: string | null): Promise<Page<SuppressionView>> => {
  const body: SuppressionSearch = {};
  if (filter.trim() !== "") body.contains = filter.trim();
  if (cursor !== null) body.cursor = cursor;
  const page = await post<SuppressionPageView>("/suppressions/search", body);
  return { rows: page.suppressions, next: page.next_cursor };
};

export function SuppressionsPage() {
  useTitle("Suppressions");
  const announce = useAnnounce();
  const [contains, setContains] = useState("");
  const [applied, setApplied] = useState("");
  const { rows, next, busy, error, load } = usePagedList(searchSuppressions);
  const [removing, setRemoving] = useState<string | null>(null);

  useEffect(() => {
    void load("", null);
  }, [load]);

  const remove = async (email: string): Promise<void> => {
    const body: SuppressionRemoval = { email };
    await post<unknown>("/suppressions/remove", body);
    announce(`${email} removed from the suppression list.`);
    await load(applied, null);
  };

  return (
    <section>
      <PageHeader title="Suppressions" />
      <div class="two-columns narrow-right">
        <div>
          <SearchForm
            ariaLabel="Search suppressions"
            label="Email contains"
            button="Search"
            autocomplete="off"
            value={contains}
            onInput={setContains}
            busy={busy}
            onSubmit={() => {
              setApplied(contains);
              void load(contains, null);
            }}
          />
          <ErrorMessage error={error} />
          {rows === null ? (
            error === null && <Loading what="suppressions" />
          ) : rows.length === 0 ? (
            <p class="muted">No suppressed addresses{applied === "" ? "" : " match"}.</p>
          ) : (
            <table>
              <caption class="sr-only">Suppressed addresses</caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Source</th>
                  <th scope="col">Details</th>
                  <th scope="col">Added at</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.email}>
                    <td class="break">{row.email}</td>
                    <td>{row.reason}</td>
                    <td>{row.source}</td>
                    <td class="break">{text(row.details)}</td>
                    <td class="nowrap">{dateTime(row.created_at)}</td>
                    <td>
                      <button type="button" class="danger" onClick={() => setRemoving(row.email)}>
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {next !== null && (
            <button type="button" class="load-more" disabled={busy} onClick={() => void load(applied, next)}>
              {busy ? "Loading…" : "Load more"}
            </button>
          )}
        </div>
        <AddSuppression
          onAdded={(email) => {
            announce(`${email} added to the suppression list.`);
            void load(applied, null);
          }}
        />
      </div>

      {removing !== null && (
        <ConfirmDialog
          title="Remove this suppression?"
          confirmLabel="Confirm"
          onConfirm={() => remove(removing)}
          onClose={() => setRemoving(null)}
        >
          <p>
            <strong>{removing}</strong> will receive email again.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function AddSuppression({ onAdded }: { onAdded: (email: string) => void }) {
  const ids = { email: useId(), reason: useId(), details: useId() };
  const [email, setEmail] = useState("");
  const [reason, setReason] = useState("manual");
  const [details, setDetails] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const body: NewSuppression = { email: email.trim(), reason };
    if (details.trim() !== "") body.details = details.trim();
    setBusy(true);
    setError(null);
    try {
      await post<unknown>("/suppressions", body);
      setEmail("");
      setDetails("");
      onAdded(body.email);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel stacked" aria-labelledby="add-suppression" onSubmit={(event) => void submit(event)}>
      <h2 id="add-suppression">Add suppression</h2>
      <div class="field">
        <label for={ids.email}>Email</label>
        <input
          id={ids.email}
          type="email"
          required
          autocomplete="off"
          value={email}
          onInput={(event) => setEmail(event.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for={ids.reason}>Reason</label>
        <select id={ids.reason} value={reason} onChange={(event) => setReason(event.currentTarget.value)}>
          {REASONS.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={ids.details}>Details</label>
        <input
          id={ids.details}
          autocomplete="off"
          value={details}
          onInput={(event) => setDetails(event.currentTarget.value)}
        />
      </div>
      <ErrorMessage error={error} />
      <button type="submit" class="primary" disabled={busy}>
        Add suppression
      </button>
    </form>
  );
}
