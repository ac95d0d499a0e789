import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from "prom-client";

/**
 * The service's metrics, on a registry the composition root owns. Names follow the Go service
 * (email_jobs_processed_total …); labels never carry a recipient or a job id.
 */
export interface Metrics {
  registry: Registry;
  jobsProcessed: Counter<"status" | "job_type" | "provider">;
  jobsQueued: Counter<"priority" | "tracked">;
  jobsTracked: Counter<"job_type">;
  processingDuration: Histogram<"status" | "job_type">;
  providerRequests: Counter<"provider" | "outcome">;
  providerErrors: Counter<"provider" | "kind">;
  providerDuration: Histogram<"provider">;
  retries: Counter<"job_type" | "kind">;
  suppressed: Counter<"job_type">;
  scheduleLateness: Histogram<"lane">;
  queueSize: Gauge<"lane">;
  queueInFlight: Gauge;
  queueDelayed: Gauge;
  deadLetterSize: Gauge;
  replicaUp: Gauge;
  circuitState: Gauge<"provider">;
  providerEvents: Counter<"provider" | "type">;
  bouncesReceived: Counter<"outcome">;
  queueRecreated: Counter<"data_lost">;
  consumerUp: Gauge;
  bulkSlots: Gauge;
  campaigns: Gauge<"type" | "status">;
  campaignRecipients: Gauge<"type" | "state">;
  campaignDispatched: Counter<"type">;
  campaignStartLateness: Histogram<"type">;
  campaignRecipientsUploaded: Counter<"type" | "outcome">;
}

export function createMetrics(registry: Registry): Metrics {
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    jobsProcessed: new Counter({
      name: "email_jobs_processed_total",
      help: "Email jobs finished by a worker, by how they ended (sent, retrying, failed, dead_lettered, skipped, deferred, suppressed, sandboxed, parked).",
      labelNames: ["status", "job_type", "provider"],
      registers,
    }),
    jobsQueued: new Counter({
      name: "email_jobs_queued_total",
      help: "Email jobs accepted by this instance and put on the queue.",
      labelNames: ["priority", "tracked"],
      registers,
    }),
    jobsTracked: new Counter({
      name: "email_jobs_tracked_total",
      help: "Tracked email jobs recorded in email_jobs.",
      labelNames: ["job_type"],
      registers,
    }),
    processingDuration: new Histogram({
      name: "email_job_processing_duration_seconds",
      help: "Time from taking a job off the queue to finishing it.",
      labelNames: ["status", "job_type"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    providerRequests: new Counter({
      name: "email_provider_requests_total",
      help: "Send requests to providers, by outcome (success or failure).",
      labelNames: ["provider", "outcome"],
      registers,
    }),
    providerErrors: new Counter({
      name: "email_provider_errors_total",
      help: "Failed provider requests, by kind (transient, permanent, throttled, config).",
      labelNames: ["provider", "kind"],
      registers,
    }),
    providerDuration: new Histogram({
      name: "email_provider_request_duration_seconds",
      help: "Time a provider took to accept or refuse a message.",
      labelNames: ["provider"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    retries: new Counter({
      name: "email_job_retries_total",
      help: "Jobs scheduled for another attempt, by the kind of failure.",
      labelNames: ["job_type", "kind"],
      registers,
    }),
    suppressed: new Counter({
      name: "email_jobs_suppressed_total",
      help: "Jobs not sent because their recipient is on the suppression list.",
      labelNames: ["job_type"],
      registers,
    }),
    scheduleLateness: new Histogram({
      name: "email_job_schedule_lateness_seconds",
      help: "How long after its scheduled time a job started being processed.",
      labelNames: ["lane"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    }),
    queueSize: new Gauge({
      name: "queue_size",
      help: "Messages waiting on each lane (in-flight excluded).",
      labelNames: ["lane"],
      registers,
    }),
    queueInFlight: new Gauge({
      name: "email_queue_in_flight",
      help: "Messages taken by a worker and not yet finished.",
      registers,
    }),
    queueDelayed: new Gauge({
      name: "email_queue_delayed",
      help: "Scheduled messages and retries waiting for their time.",
      registers,
    }),
    deadLetterSize: new Gauge({
      name: "email_dead_letter_size",
      help: "Messages in the dead-letter store.",
      registers,
    }),
    circuitState: new Gauge({
      name: "email_provider_circuit_state",
      help: "Each provider's circuit breaker: 0 closed, 1 half-open, 2 open.",
      labelNames: ["provider"],
      registers,
    }),
    providerEvents: new Counter({
      name: "email_provider_events_total",
      help: "Events reported by providers and tracking links (delivered, bounced_hard, complained, opened…).",
      labelNames: ["provider", "type"],
      registers,
    }),
    bouncesReceived: new Counter({
      name: "email_bounces_received_total",
      help: "Messages the bounce listener accepted, by outcome (recorded, duplicate, or kept: not_a_bounce, no_status, no_job).",
      labelNames: ["outcome"],
      registers,
    }),
    bulkSlots: new Gauge({
      name: "email_worker_bulk_slots",
      help: "Worker slots low-priority jobs may use now: worker.bulk_share of worker_count while critical or high jobs are being sent, all of them otherwise.",
      registers,
    }),
    consumerUp: new Gauge({
      name: "email_queue_consumer_up",
      help: "1 while this instance's fetches from the queue work, 0 while they keep failing.",
      registers,
    }),
    queueRecreated: new Counter({
      name: "email_queue_recreated_total",
      help: "Times the queue's consumer group was gone and made again; data_lost=true when Redis had lost the queue's data (delayed jobs, dead letters, idempotency keys).",
      labelNames: ["data_lost"],
      registers,
    }),
    campaigns: new Gauge({
      name: "email_campaigns",
      help: "Campaigns by job type and status, as the database holds them (the same on every replica: aggregate with max, not sum).",
      labelNames: ["type", "status"],
      registers,
    }),
    campaignRecipients: new Gauge({
      name: "email_campaign_recipients",
      help: "Recipients of campaigns not yet ended, by job type and where they are (pending, queued, sent, failed, suppressed, cancelled, bounced, complained, opened, clicked, unsubscribed); the same on every replica.",
      labelNames: ["type", "state"],
      registers,
    }),
    campaignDispatched: new Counter({
      name: "email_campaign_dispatched_total",
      help: "Campaign recipients this instance put on the queue as jobs, by job type.",
      labelNames: ["type"],
      registers,
    }),
    campaignStartLateness: new Histogram({
      name: "email_campaign_start_lateness_seconds",
      help: "How long after its scheduled time a scheduled campaign started, by job type.",
      labelNames: ["type"],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    campaignRecipientsUploaded: new Counter({
      name: "email_campaign_recipients_uploaded_total",
      help: "Audience rows this instance took, by job type and outcome (added, duplicate, suppressed, invalid).",
      labelNames: ["type", "outcome"],
      registers,
    }),
    replicaUp: new Gauge({
      name: "email_database_replica_up",
      help: "1 while reads go to the replica, 0 while they fall back to the master; absent without a replica.",
      registers,
    }),
  };
}
