import { useEffect, useId, useState } from "preact/hooks";
import type { CampaignPageView, CampaignSummary } from "../../../../internal/console/console-api.ts";
import { useAnnounce } from "../announcer.tsx";
import { get, messageOf, post, query, segment } from "../api.ts";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { count, dateTime } from "../format.ts";
import { usePolling, useTitle } from "../hooks.ts";
import { type Page, usePagedList } from "../paged-list.ts";

const STATUSES = ["draft", "scheduled", "running", "paused", "completed", "cancelled"];

type Action = "start" | "pause" | "resume" | "cancel";

/** Which actions a campaign's status allows (the server's TRANSITIONS, mirrored for the buttons). */
const ALLOWED: Record<Action, readonly string[]> = {
  start: ["draft"],
  pause: ["running", "scheduled"],
  resume: ["paused"],
  cancel: ["draft", "scheduled", "running", "paused"],
};

const LABELS: Record<Action, string> = { start: "Start", pause: "Pause", resume: "Resume", cancel: "Cancel" };

const finished = (c: CampaignSummary): number =>
  c.counts.sent + c.counts.failed + c.counts.suppressed + c.counts.cancelled;

const listCampaigns = async (status: string, cursor: string | null): Promise<Page<CampaignSummary>> => {
  const page = await get<CampaignPageView>(`/campaigns${query({ status, cursor })}`);
  return { rows: page.campaigns, next: page.next_cursor };
};

export function CampaignsPage() {
  useTitle("Campaigns");
  const announce = useAnnounce();
  const statusId = useId();
  const [status, setStatus] = useState("");
  const [pages, setPages] = useState(1);
  const [cancelling, setCancelling] = useState<CampaignSummary | null>(null);
  const {
    rows: campaigns,
    next,
    busy,
    error,
    setError,
    load,
  } = usePagedList(listCampaigns, {
    onPage: (_page, cursor) => setPages((n) => (cursor === null ? 1 : n + 1)),
    // The 5 s refresh below would otherwise blank a shown error every time it starts.
    clearErrorOn: "answer",
  });

  useEffect(() => {
    void load(status, null);
  }, [status, load]);

  // Refreshing only re-reads the first page, so it pauses once more pages are loaded.
  usePolling(() => void load(status, null), 5000, pages === 1);

  const act = async (campaign: CampaignSummary, action: Action): Promise<void> => {
    await post<unknown>(`/campaigns/${segment(campaign.id)}/${action}`);
    const done = { start: "started", pause: "paused", resume: "resumed", cancel: "cancelled" }[action];
    announce(`Campaign ${campaign.name} ${done}.`);
    await load(status, null);
  };

  const run = (campaign: CampaignSummary, action: Action): void => {
    act(campaign, action).catch((e: unknown) => setError(messageOf(e)));
  };

  return (
    <section>
      <PageHeader title="Campaigns" />
      <div class="filters">
        <div class="field">
          <label for={statusId}>Status</label>
          <select id={statusId} value={status} onChange={(event) => setStatus(event.currentTarget.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ErrorMessage error={error} />
      {campaigns === null ? (
        error === null && <Loading what="campaigns" />
      ) : campaigns.length === 0 ? (
        <p class="muted">No campaigns.</p>
      ) : (
        <table>
          <caption class="sr-only">Campaigns</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Sent</th>
              <th scope="col">Failed</th>
              <th scope="col">Pending</th>
              <th scope="col">Rate</th>
              <th scope="col">ETA</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {campaigns.map((c) => {
              const done = finished(c);
              const total = c.counts.total;
              return (
                <tr key={c.id}>
                  <td>
                    {c.name}
                    <span class="id">{c.id}</span>
                  </td>
                  <td>{c.type}</td>
                  <td>
                    <span class={`badge campaign-${c.status}`}>{c.status}</span>
                  </td>
                  <td class="progress-cell">
                    <progress max={Math.max(total, 1)} value={done} aria-label={`Progress of ${c.name}`} />
                    <span class="muted">
                      {count(done)} / {count(total)}
                    </span>
                  </td>
                  <td class="num">{count(c.counts.sent)}</td>
                  <td class="num">{count(c.counts.failed)}</td>
                  <td class="num">{count(c.counts.pending + c.counts.queued)}</td>
                  <td class="num nowrap">{c.rate.toFixed(2)} /s</td>
                  <td class="nowrap">{dateTime(c.eta)}</td>
                  <td>
                    <div class="actions">
                      {(Object.keys(ALLOWED) as Action[])
                        .filter((action) => ALLOWED[action].includes(c.status))
                        .map((action) => (
                          <button
                            key={action}
                            type="button"
                            class={action === "cancel" ? "danger" : undefined}
                            onClick={() => (action === "cancel" ? setCancelling(c) : run(c, action))}
                          >
                            {LABELS[action]}
                          </button>
                        ))}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {next !== null && (
        <button type="button" class="load-more" disabled={busy} onClick={() => void load(status, next)}>
          {busy ? "Loading…" : "Load more"}
        </button>
      )}

      {cancelling !== null && (
        <ConfirmDialog
          title="Cancel this campaign?"
          confirmLabel="Confirm"
          onConfirm={() => act(cancelling, "cancel")}
          onClose={() => setCancelling(null)}
        >
          <p>
            Campaign <strong>{cancelling.name}</strong>: recipients not yet sent to will not get the email.
            This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
