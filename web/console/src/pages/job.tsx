import { useState } from "preact/hooks";
import type { JobDetailView, JobPreviewView } from "../../../../internal/console/console-api.ts";
import { useAnnounce } from "../announcer.tsx";
import { get, post, segment } from "../api.ts";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { MessagePreview } from "../components/message-preview.tsx";
import { dateTime, list, text, yesNo } from "../format.ts";
import { useAsync, useTitle } from "../hooks.ts";
import { Link } from "../router.tsx";
import { useSession } from "../session.tsx";

type Action = "cancel" | "retry";

export function JobPage({ id }: { id: string }) {
  useTitle(`Job ${id}`);
  const session = useSession();
  const announce = useAnnounce();
  const detail = useAsync(() => get<JobDetailView>(`/jobs/${segment(id)}`), [id]);
  // A message's content (codes, sign-in links) is the admin's to see, as in the API.
  const canPreview = session.can.admin;
  const preview = useAsync(
    () => (canPreview ? get<JobPreviewView>(`/jobs/${segment(id)}/preview`) : Promise.resolve(null)),
    [id, canPreview],
  );
  const [action, setAction] = useState<Action | null>(null);
  const view = detail.data;

  const act = async (which: Action): Promise<void> => {
    await post<unknown>(`/jobs/${segment(id)}/${which}`);
    announce(which === "cancel" ? `Job ${id} cancelled.` : `Job ${id} queued for another try.`);
    await Promise.all([detail.reload(), preview.reload()]);
  };

  return (
    <section>
      <p class="crumbs">
        <Link to="/jobs">← Jobs</Link>
      </p>
      <PageHeader title={`Job ${id}`}>
        {view !== undefined && session.can.admin && view.can_cancel && (
          <button type="button" class="danger" onClick={() => setAction("cancel")}>
            Cancel
          </button>
        )}
        {view !== undefined && session.can.admin && view.can_retry && (
          <button type="button" onClick={() => setAction("retry")}>
            Retry
          </button>
        )}
      </PageHeader>
      <ErrorMessage error={detail.error} />
      {view === undefined ? (
        detail.error === null && <Loading what="the job" />
      ) : (
        <div class="two-columns">
          <div>
            <section class="panel" aria-labelledby="job-fields">
              <h2 id="job-fields">Details</h2>
              <dl class="fields">
                <dt>Type</dt>
                <dd>{view.job.type}</dd>
                <dt>Status</dt>
                <dd>
                  <span class={`badge status-${view.job.status}`}>{view.job.status}</span>
                </dd>
                <dt>Priority</dt>
                <dd>{view.job.priority}</dd>
                <dt>Recipient</dt>
                <dd class="break">
                  {view.job.recipient_name !== null && view.job.recipient_name !== ""
                    ? `${view.job.recipient_name} <${view.job.recipient_email}>`
                    : view.job.recipient_email}
                </dd>
                <dt>Cc</dt>
                <dd class="break">{list(view.job.cc)}</dd>
                <dt>Bcc</dt>
                <dd class="break">{list(view.job.bcc)}</dd>
                <dt>Tags</dt>
                <dd>{list(view.job.tags)}</dd>
                <dt>Template</dt>
                <dd>
                  {view.job.template_id === null ? (
                    text(null)
                  ) : (
                    <Link to={`/templates/${segment(view.job.template_id)}`}>{view.job.template_id}</Link>
                  )}
                </dd>
                <dt>Provider</dt>
                <dd>{text(view.job.provider)}</dd>
                <dt>Idempotency key</dt>
                <dd class="break">{text(view.job.idempotency_key)}</dd>
                <dt>Attempts</dt>
                <dd>
                  {view.job.retry_count} / {view.job.max_retries}
                </dd>
                <dt>Error</dt>
                <dd class="break">{text(view.job.error_message)}</dd>
                <dt>Batch</dt>
                <dd>{text(view.job.batch_id)}</dd>
                <dt>Campaign</dt>
                <dd>{text(view.job.campaign_id)}</dd>
                <dt>Sandbox</dt>
                <dd>{yesNo(view.job.sandbox)}</dd>
                <dt>Scheduled</dt>
                <dd>{dateTime(view.job.scheduled_at)}</dd>
                <dt>Created</dt>
                <dd>{dateTime(view.job.created_at)}</dd>
                <dt>Updated</dt>
                <dd>{dateTime(view.job.updated_at)}</dd>
                <dt>Sent</dt>
                <dd>{dateTime(view.job.sent_at)}</dd>
              </dl>
            </section>

            <section class="panel" aria-labelledby="job-events">
              <h2 id="job-events">Timeline</h2>
              <ol class="timeline">
                <li>
                  <strong>created</strong> <span class="muted">{dateTime(view.job.created_at)}</span>
                </li>
                {view.job.events.map((event, i) => (
                  <li key={`${event.at}-${i}`}>
                    <strong>{event.status}</strong> <span class="muted">{dateTime(event.at)}</span>
                    {event.provider !== null && <span> · provider {event.provider}</span>}
                    {event.message_id !== null && (
                      <span class="break">
                        {" "}
                        · message id <code>{event.message_id}</code>
                      </span>
                    )}
                    {event.error_message !== null && <p class="error-text">{event.error_message}</p>}
                  </li>
                ))}
              </ol>
            </section>
          </div>

          <section class="panel" aria-labelledby="job-preview">
            <h2 id="job-preview">Preview</h2>
            <ErrorMessage error={preview.error} />
            {preview.data === null ? (
              <p class="muted">Seeing a message's content needs the admin scope.</p>
            ) : preview.data === undefined ? (
              preview.error === null && <Loading what="the preview" />
            ) : preview.data.ok ? (
              <MessagePreview rendered={preview.data.rendered} label="Job message" />
            ) : (
              <p role="alert" class="error">
                The message cannot be rendered: {preview.data.error}
              </p>
            )}
          </section>
        </div>
      )}

      {action !== null && (
        <ConfirmDialog
          title={action === "cancel" ? "Cancel this job?" : "Retry this job?"}
          confirmLabel="Confirm"
          onConfirm={() => act(action)}
          onClose={() => setAction(null)}
        >
          <p>
            {action === "cancel"
              ? `Job ${id} will not be sent.`
              : `Job ${id} goes back on the queue for another attempt.`}
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
