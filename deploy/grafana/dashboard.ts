/**
 * The Grafana dashboard, as data: `npm run dashboard` writes email-worker.json from it, and a test
 * checks every query against promtool and against the metrics the service really exports.
 */

export interface PanelSpec {
  title: string;
  unit: string;
  targets: { expr: string; legend: string }[];
  type?: "timeseries" | "stat";
}

export const ROWS: { title: string; panels: PanelSpec[] }[] = [
  {
    title: "Throughput",
    panels: [
      {
        title: "Jobs finished by outcome",
        unit: "ops",
        targets: [{ expr: "sum by (status) (rate(email_jobs_processed_total[5m]))", legend: "{{status}}" }],
      },
      {
        title: "Emails accepted by provider",
        unit: "ops",
        targets: [
          {
            expr: 'sum by (provider) (rate(email_provider_requests_total{outcome="success"}[5m]))',
            legend: "{{provider}}",
          },
        ],
      },
      {
        title: "Emails sent by job type (top 10)",
        unit: "ops",
        targets: [
          {
            expr: 'topk(10, sum by (job_type) (rate(email_jobs_processed_total{status="sent"}[5m])))',
            legend: "{{job_type}}",
          },
        ],
      },
      {
        title: "Jobs queued by priority",
        unit: "ops",
        targets: [{ expr: "sum by (priority) (rate(email_jobs_queued_total[5m]))", legend: "{{priority}}" }],
      },
    ],
  },
  {
    title: "Latency and queue",
    panels: [
      {
        title: "Processing time",
        unit: "s",
        targets: [0.5, 0.95, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(email_job_processing_duration_seconds_bucket[5m])))`,
          legend: `p${q * 100}`,
        })),
      },
      {
        title: "Queue depth per lane",
        unit: "short",
        targets: [{ expr: "max by (lane) (queue_size)", legend: "{{lane}}" }],
      },
      {
        title: "In flight, delayed, dead letters",
        unit: "short",
        targets: [
          { expr: "sum(email_queue_in_flight)", legend: "in flight" },
          { expr: "max(email_queue_delayed)", legend: "delayed" },
          { expr: "max(email_dead_letter_size)", legend: "dead letters" },
        ],
      },
      {
        title: "Scheduling lateness (p99)",
        unit: "s",
        targets: [
          {
            expr: "histogram_quantile(0.99, sum by (le, lane) (rate(email_job_schedule_lateness_seconds_bucket[5m])))",
            legend: "{{lane}}",
          },
        ],
      },
    ],
  },
  {
    title: "Providers",
    panels: [
      {
        title: "Provider error rate",
        unit: "percentunit",
        targets: [
          {
            expr: "sum by (provider) (rate(email_provider_errors_total[5m])) / sum by (provider) (rate(email_provider_requests_total[5m]))",
            legend: "{{provider}}",
          },
        ],
      },
      {
        title: "Circuit breakers (0 closed, 1 half-open, 2 open)",
        unit: "short",
        targets: [{ expr: "max by (provider) (email_provider_circuit_state)", legend: "{{provider}}" }],
      },
      {
        title: "Provider request time (p99)",
        unit: "s",
        targets: [
          {
            expr: "histogram_quantile(0.99, sum by (le, provider) (rate(email_provider_request_duration_seconds_bucket[5m])))",
            legend: "{{provider}}",
          },
        ],
      },
      {
        title: "Retries by failure kind",
        unit: "ops",
        targets: [{ expr: "sum by (kind) (rate(email_job_retries_total[5m]))", legend: "{{kind}}" }],
      },
    ],
  },
  {
    title: "Reputation",
    panels: [
      {
        title: "Bounce and complaint rate",
        unit: "percentunit",
        targets: [
          {
            expr: 'sum by (type) (rate(email_provider_events_total{type=~"bounced_hard|complained"}[1h])) / scalar(sum(rate(email_provider_requests_total{outcome="success"}[1h])))',
            legend: "{{type}}",
          },
        ],
      },
      {
        title: "Provider events",
        unit: "ops",
        targets: [{ expr: "sum by (type) (rate(email_provider_events_total[5m]))", legend: "{{type}}" }],
      },
      {
        title: "Suppressed sends",
        unit: "ops",
        targets: [
          { expr: "sum by (job_type) (rate(email_jobs_suppressed_total[5m]))", legend: "{{job_type}}" },
        ],
      },
    ],
  },
  {
    title: "Process",
    panels: [
      {
        title: "Resident memory",
        unit: "bytes",
        targets: [{ expr: "process_resident_memory_bytes", legend: "{{instance}}" }],
      },
      {
        title: "CPU",
        unit: "percentunit",
        targets: [{ expr: "rate(process_cpu_seconds_total[5m])", legend: "{{instance}}" }],
      },
      {
        title: "Event loop lag (p99)",
        unit: "s",
        targets: [{ expr: "nodejs_eventloop_lag_p99_seconds", legend: "{{instance}}" }],
      },
      {
        title: "Replica in use (1) or master fallback (0)",
        unit: "short",
        targets: [{ expr: "min(email_database_replica_up)", legend: "replica" }],
      },
    ],
  },
];

/** Grafana's own variable syntax (not a template literal): the data source chosen on the dashboard. */
const DATASOURCE = { type: "prometheus", uid: ["$", "{datasource}"].join("") };

/** The dashboard JSON Grafana imports (schema 39), with a Prometheus data-source variable. */
export function buildDashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: "row",
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    row.panels.forEach((panel, index) => {
      const width = 24 / row.panels.length;
      panels.push({
        id: id++,
        type: panel.type ?? "timeseries",
        title: panel.title,
        datasource: DATASOURCE,
        gridPos: { h: 8, w: width, x: index * width, y },
        fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
        options: { legend: { displayMode: "list", placement: "bottom", showLegend: true } },
        targets: panel.targets.map((target, t) => ({
          refId: String.fromCharCode(65 + t),
          datasource: DATASOURCE,
          expr: target.expr,
          legendFormat: target.legend,
        })),
      });
    });
    y += 8;
  }
  return {
    uid: "email-worker",
    title: "email-worker",
    tags: ["email-worker"],
    timezone: "browser",
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: {
      list: [
        { name: "datasource", type: "datasource", query: "prometheus", label: "Prometheus", current: {} },
      ],
    },
    panels,
  };
}

/** Every PromQL expression on the dashboard. */
export function dashboardExpressions(): string[] {
  return ROWS.flatMap((row) => row.panels.flatMap((panel) => panel.targets.map((t) => t.expr)));
}
