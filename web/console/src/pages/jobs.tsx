import { useEffect, useId, useState } from "preact/hooks";
import type { JobPageView, JobSearch, JobSummary } from "../../../../internal/console/console-api.ts";
// The service's own list (a module with no dependencies, bundled as it is).
import { JOB_STATUSES } from "../../../../internal/job/status.ts";
import { post } from "../api.ts";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { dateTime, localToIso, text } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { type Page, usePagedList } from "../paged-list.ts";
import { Link } from "../router.tsx";

interface Filters {
  id: string;
  recipient: string;
  type: string;
  status: string;
  tag: string;
  campaignId: string;
  createdAfter: string;
  createdBefore: string;
}

const EMPTY: Filters = {
  id: "",
  recipient: "",
  type: "",
  status: "",
  tag: "",
  campaignId: "",
  createdAfter: "",
  createdBefore: "",
};

// Kept in memory only (never the URL or storage: a search may name an address), so coming back from
// a job page shows the same search.
let remembered: Filters = EMPTY;

function toSearch(f: Filters, cursor: string | null): JobSearch {
  const search: JobSearch = { limit: 50 };
  const set = <K extends keyof JobSearch>(key: K, value: JobSearch[K] | undefined): void => {
    if (value !== undefined && value !== "") search[key] = value;
  };
  set("id", f.id.trim());
  set("recipient", f.recipient.trim());
  set("type", f.type.trim());
  if (f.status !== "") search.status = [f.status];
  set("tag", f.tag.trim());
  set("campaign_id", f.campaignId.trim());
  set("created_after", localToIso(f.createdAfter));
  set("created_before", localToIso(f.createdBefore));
  if (cursor !== null) search.cursor = cursor;
  return search;
}

const searchJobs = async (f: Filters, cursor: string | null): Promise<Page<JobSummary>> => {
  const page = await post<JobPageView>("/jobs/search", toSearch(f, cursor));
  return { rows: page.jobs, next: page.next_cursor };
};

export function JobsPage() {
  useTitle("Jobs");
  const [filters, setFilters] = useState<Filters>(remembered);
  const { rows: jobs, next, busy, error, load: run } = usePagedList(searchJobs);
  const ids = {
    id: useId(),
    recipient: useId(),
    type: useId(),
    status: useId(),
    tag: useId(),
    campaign: useId(),
    after: useId(),
    before: useId(),
  };

  useEffect(() => {
    void run(remembered, null);
  }, [run]);

  const field = (key: keyof Filters) => ({
    value: filters[key],
    onInput: (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
      setFilters({ ...filters, [key]: event.currentTarget.value }),
  });

  const submit = (event: Event): void => {
    event.preventDefault();
    remembered = filters;
    void run(filters, null);
  };

  const clear = (): void => {
    setFilters(EMPTY);
    remembered = EMPTY;
    void run(EMPTY, null);
  };

  return (
    <section>
      <PageHeader title="Jobs" />
      <form class="filters" onSubmit={submit} aria-label="Search jobs">
        <div class="field">
          <label for={ids.id}>Job id</label>
          <input id={ids.id} {...field("id")} autocomplete="off" />
        </div>
        <div class="field">
          <label for={ids.recipient}>Recipient</label>
          <input id={ids.recipient} type="search" {...field("recipient")} autocomplete="off" />
        </div>
        <div class="field">
          <label for={ids.type}>Type</label>
          <input id={ids.type} {...field("type")} autocomplete="off" />
        </div>
        <div class="field">
          <label for={ids.status}>Status</label>
          <select id={ids.status} {...field("status")}>
            <option value="">any</option>
            {JOB_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={ids.tag}>Tag</label>
          <input id={ids.tag} {...field("tag")} autocomplete="off" />
        </div>
        <div class="field">
          <label for={ids.campaign}>Campaign id</label>
          <input id={ids.campaign} {...field("campaignId")} autocomplete="off" />
        </div>
        <div class="field">
          <label for={ids.after}>Created after</label>
          <input id={ids.after} type="datetime-local" {...field("createdAfter")} />
        </div>
        <div class="field">
          <label for={ids.before}>Created before</label>
          <input id={ids.before} type="datetime-local" {...field("createdBefore")} />
        </div>
        <div class="field buttons">
          <button type="submit" class="primary" disabled={busy}>
            Search
          </button>
          <button type="button" onClick={clear} disabled={busy}>
            Clear
          </button>
        </div>
      </form>

      <ErrorMessage error={error} />
      {jobs === null ? error === null && <Loading what="jobs" /> : <JobTable jobs={jobs} />}
      {next !== null && (
        <button type="button" class="load-more" disabled={busy} onClick={() => void run(remembered, next)}>
          {busy ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}

function JobTable({ jobs }: { jobs: JobSummary[] }) {
  if (jobs.length === 0) return <p class="muted">No jobs match.</p>;
  return (
    <table>
      <caption class="sr-only">Jobs found</caption>
      <thead>
        <tr>
          <th scope="col">Created</th>
          <th scope="col">Type</th>
          <th scope="col">Recipient</th>
          <th scope="col">Subject</th>
          <th scope="col">Status</th>
          <th scope="col">Provider</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <tr key={job.id}>
            <td class="nowrap">{dateTime(job.created_at)}</td>
            <td>{job.type}</td>
            <td class="break">{job.recipient_email}</td>
            <td class="break">
              <Link to={`/jobs/${encodeURIComponent(job.id)}`}>
                <span>{job.subject === null || job.subject === "" ? "(no subject)" : job.subject}</span>
                <span class="id">{job.id}</span>
              </Link>
            </td>
            <td>
              <span class={`badge status-${job.status}`}>{job.status}</span>
            </td>
            <td>{text(job.provider)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
