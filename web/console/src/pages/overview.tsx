import type { OverviewView } from "../../../../internal/console/console-api.ts";
import { get } from "../api.ts";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { ThroughputChart } from "../components/throughput-chart.tsx";
import { count, dateTime, percent, yesNo } from "../format.ts";
import { useAsync, usePolling, useTitle } from "../hooks.ts";

const LANES = ["critical", "high", "normal", "low"];

export function OverviewPage() {
  useTitle("Overview");
  const overview = useAsync(() => get<OverviewView>("/overview"), []);
  usePolling(() => void overview.reload(), 5000);
  const view = overview.data;

  return (
    <section aria-busy={overview.loading}>
      <PageHeader title="Overview">
        {view !== undefined && <span class="muted">Updated {dateTime(view.generated_at)}</span>}
      </PageHeader>
      <ErrorMessage error={overview.error} />
      {view === undefined ? (
        overview.error === null && <Loading what="the overview" />
      ) : (
        <div class="overview">
          <section class="panel" aria-labelledby="queue-heading">
            <h2 id="queue-heading">Queue ({view.driver})</h2>
            <dl class="stats">
              {[...LANES, ...Object.keys(view.queue.lanes).filter((l) => !LANES.includes(l))].map((lane) => (
                <div key={lane}>
                  <dt>{lane}</dt>
                  <dd>{count(view.queue.lanes[lane] ?? 0)}</dd>
                </div>
              ))}
              <div>
                <dt>In flight</dt>
                <dd>{count(view.queue.in_flight)}</dd>
              </div>
              <div>
                <dt>Delayed</dt>
                <dd>{count(view.queue.delayed)}</dd>
              </div>
              <div>
                <dt>Dead letters</dt>
                <dd>{count(view.queue.dead)}</dd>
              </div>
            </dl>
          </section>

          <section class="panel" aria-labelledby="tracked-heading">
            <h2 id="tracked-heading">Tracked jobs by status</h2>
            {Object.keys(view.tracked_by_status).length === 0 ? (
              <p class="muted">No tracked jobs.</p>
            ) : (
              <dl class="stats">
                {Object.entries(view.tracked_by_status).map(([status, n]) => (
                  <div key={status}>
                    <dt>{status}</dt>
                    <dd>{count(n)}</dd>
                  </div>
                ))}
              </dl>
            )}
          </section>

          <section class="panel wide" aria-labelledby="throughput-heading">
            <h2 id="throughput-heading">Throughput</h2>
            <ThroughputChart minutes={view.throughput} />
          </section>

          <section class="panel" aria-labelledby="providers-heading">
            <h2 id="providers-heading">Providers</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Circuit</th>
                  <th scope="col">Error rate</th>
                  <th scope="col">Last check</th>
                </tr>
              </thead>
              <tbody>
                {view.providers.map((p) => (
                  <tr key={p.name}>
                    <td>{p.name}</td>
                    <td>
                      <span class={`badge circuit-${p.circuit}`}>{p.circuit}</span>
                    </td>
                    <td class="num">{percent(p.error_rate)}</td>
                    <td>{p.check}</td>
                  </tr>
                ))}
                {view.providers.length === 0 && (
                  <tr>
                    <td colSpan={4} class="muted">
                      No providers configured.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </section>

          <section class="panel" aria-labelledby="health-heading">
            <h2 id="health-heading">Service health</h2>
            <dl class="fields">
              <dt>Status</dt>
              <dd>
                <span class={`badge health-${view.health.status}`}>{view.health.status}</span>
              </dd>
              <dt>Version</dt>
              <dd>{view.health.version}</dd>
              <dt>Uptime</dt>
              <dd>{view.health.uptime}</dd>
              <dt>Queue</dt>
              <dd>{view.health.queue}</dd>
              <dt>Database</dt>
              <dd>{view.health.database}</dd>
              <dt>Consumer</dt>
              <dd>{view.health.consumer}</dd>
              <dt>Replica</dt>
              <dd>{view.health.replica}</dd>
              <dt>Draining</dt>
              <dd>{yesNo(view.health.draining)}</dd>
            </dl>
          </section>
        </div>
      )}
    </section>
  );
}
