import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import type {
  DeadLetterPageView,
  DeadLetterSearch,
  DeadLetterView,
  ReplayRequest,
  ReplayResultView,
} from "../../../../internal/console/console-api.ts";
import { useAnnounce } from "../announcer.tsx";
import { messageOf, post } from "../api.ts";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { SearchForm } from "../components/search-form.tsx";
import { bytes, count, dateTime, prettyPayload } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { type Page, usePagedList } from "../paged-list.ts";

interface Plan {
  ids: string[];
  dryRun: ReplayResultView;
}

const replay = (ids: string[], dryRun: boolean): Promise<ReplayResultView> => {
  const body: ReplayRequest = { ids, dry_run: dryRun };
  return post<ReplayResultView>("/dead-letters/replay", body);
};

const searchDeadLetters = async (
  filter: string,
  cursor: string | null,
): Promise<Page<DeadLetterView> & { total: number }> => {
  const search: DeadLetterSearch = {
    ...(filter && { reason: filter }),
    ...(cursor !== null && { cursor }),
  };
  const page = await post<DeadLetterPageView>("/dead-letters/search", search);
  return { rows: page.dead_letters, next: page.next_cursor, total: page.total };
};

export function DeadLettersPage() {
  useTitle("Dead letters");
  const announce = useAnnounce();
  const [reason, setReason] = useState("");
  const [applied, setApplied] = useState("");
  const [total, setTotal] = useState(0);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [plan, setPlan] = useState<Plan | null>(null);
  const {
    rows: letters,
    next,
    busy,
    error,
    setError,
    load,
  } = usePagedList(searchDeadLetters, {
    onPage: (page, cursor) => {
      setTotal(page.total);
      // A fresh list: ids picked in the old one may no longer be on screen.
      if (cursor === null) setSelected(new Set());
    },
  });

  useEffect(() => {
    void load("", null);
  }, [load]);

  const toggle = (set: ReadonlySet<string>, id: string): Set<string> => {
    const copy = new Set(set);
    if (copy.has(id)) copy.delete(id);
    else copy.add(id);
    return copy;
  };

  // A dry run first, so the dialog can say which ids will go back and which are already gone.
  const prepare = async (ids: string[]): Promise<void> => {
    setError(null);
    try {
      setPlan({ ids, dryRun: await replay(ids, true) });
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const confirmReplay = async (ids: string[]): Promise<void> => {
    const result = await replay(ids, false);
    const replayed = result.replayed.length === 0 ? "none" : result.replayed.join(", ");
    const missing =
      result.missing.length === 0 ? "" : ` Missing ${result.missing.length}: ${result.missing.join(", ")}.`;
    announce(`Replayed ${result.replayed.length} dead letter(s): ${replayed}.${missing}`);
    await load(applied, null);
  };

  const all = letters ?? [];
  const allSelected = all.length > 0 && all.every((l) => selected.has(l.id));

  return (
    <section>
      <PageHeader title="Dead letters">
        <button
          type="button"
          class="primary"
          disabled={selected.size === 0}
          onClick={() => void prepare([...selected])}
        >
          Replay selected ({selected.size})
        </button>
      </PageHeader>
      <SearchForm
        ariaLabel="Filter dead letters"
        label="Reason contains"
        button="Filter"
        value={reason}
        onInput={setReason}
        busy={busy}
        onSubmit={() => {
          setApplied(reason);
          void load(reason, null);
        }}
      />
      <ErrorMessage error={error} />
      {letters === null ? (
        error === null && <Loading what="dead letters" />
      ) : letters.length === 0 ? (
        <p class="muted">No dead letters{applied === "" ? "" : " match"}.</p>
      ) : (
        <>
          <p class="muted">
            Showing {count(letters.length)} of {count(total)}.
          </p>
          <table>
            <caption class="sr-only">Dead letters</caption>
            <thead>
              <tr>
                <th scope="col">
                  <label class="check">
                    <input
                      type="checkbox"
                      checked={allSelected}
                      onChange={() => setSelected(allSelected ? new Set() : new Set(all.map((l) => l.id)))}
                    />
                    <span class="sr-only">Select all</span>
                  </label>
                </th>
                <th scope="col">Id</th>
                <th scope="col">Cause</th>
                <th scope="col">Reason</th>
                <th scope="col">Lane</th>
                <th scope="col">Attempt</th>
                <th scope="col">Failed at</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {letters.map((letter) => {
                const expanded = open.has(letter.id);
                const payloadId = `payload-${letter.id}`;
                return (
                  <Fragment key={letter.id}>
                    <tr>
                      <td>
                        <label class="check">
                          <input
                            type="checkbox"
                            checked={selected.has(letter.id)}
                            onChange={() => setSelected(toggle(selected, letter.id))}
                          />
                          <span class="sr-only">Select {letter.id}</span>
                        </label>
                      </td>
                      <td class="id-cell">{letter.id}</td>
                      <td>
                        {letter.cause}
                        {letter.error_code !== null && <span class="muted"> ({letter.error_code})</span>}
                      </td>
                      <td class="break">{letter.reason}</td>
                      <td>{letter.lane}</td>
                      <td class="num">{letter.attempt}</td>
                      <td class="nowrap">{dateTime(letter.failed_at)}</td>
                      <td class="nowrap">
                        <button
                          type="button"
                          aria-expanded={expanded}
                          aria-controls={expanded ? payloadId : undefined}
                          onClick={() => setOpen(toggle(open, letter.id))}
                        >
                          Inspect
                        </button>{" "}
                        <button type="button" onClick={() => void prepare([letter.id])}>
                          Replay
                        </button>
                      </td>
                    </tr>
                    {expanded && (
                      <tr class="expansion">
                        <td colSpan={8} id={payloadId}>
                          <p class="muted">
                            Payload, {bytes(letter.body_bytes)}
                            {letter.body_truncated &&
                              ` (truncated: showing the first ${bytes(new TextEncoder().encode(letter.body).length)} of ${bytes(letter.body_bytes)})`}
                          </p>
                          <pre class="payload">{prettyPayload(letter.body)}</pre>
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </>
      )}
      {next !== null && (
        <button type="button" class="load-more" disabled={busy} onClick={() => void load(applied, next)}>
          {busy ? "Loading…" : "Load more"}
        </button>
      )}

      {plan !== null && (
        <ConfirmDialog
          title="Replay dead letters?"
          confirmLabel="Confirm"
          disabled={plan.dryRun.replayed.length === 0}
          onConfirm={() => confirmReplay(plan.dryRun.replayed)}
          onClose={() => setPlan(null)}
        >
          <p>
            Will replay {plan.dryRun.replayed.length}:{" "}
            {plan.dryRun.replayed.length === 0 ? "none" : <code>{plan.dryRun.replayed.join(", ")}</code>}
          </p>
          {plan.dryRun.missing.length > 0 && (
            <p>
              Missing (already replayed or gone) {plan.dryRun.missing.length}:{" "}
              <code>{plan.dryRun.missing.join(", ")}</code>
            </p>
          )}
        </ConfirmDialog>
      )}
    </section>
  );
}
