import type { Logger } from "pino";
import { isJobId } from "../job/job-id.ts";
import type { JobRepository } from "../store/job-repository.ts";
import type { SuppressionList, SuppressionReason } from "../store/suppression-repository.ts";
import type { TrackingRepository } from "../store/tracking-repository.ts";
import type { ProviderEvent, ProviderEventType } from "./provider-event.ts";

interface EventRecorderOptions {
  jobs: JobRepository;
  tracking: TrackingRepository;
  suppressions: SuppressionList;
  logger: Logger;
  onEvent?: (event: ProviderEvent, recorded: boolean) => void;
}

/** Events that put the address on the suppression list: a later email to it would hurt reputation. */
const SUPPRESSING: Partial<Record<ProviderEventType, SuppressionReason>> = {
  bounced_hard: "hard_bounce",
  complained: "complaint",
  unsubscribed: "unsubscribe",
};

/**
 * Records provider events: in email_tracking for tracked jobs (once per provider event id, whatever
 * order events arrive in), and in the suppression list for hard bounces, complaints and
 * unsubscribes — for tracked and fast-path emails alike.
 */
export class EventRecorder {
  readonly #options: EventRecorderOptions;

  constructor(options: EventRecorderOptions) {
    this.#options = options;
  }

  async record(
    events: readonly ProviderEvent[],
  ): Promise<{ recorded: number; duplicates: number; suppressed: number }> {
    let recorded = 0;
    let duplicates = 0;
    let suppressed = 0;
    for (const event of events) {
      const reason = SUPPRESSING[event.type];
      if (reason) {
        await this.#options.suppressions.add({
          email: event.recipient,
          reason,
          source: event.provider,
          details: event.reason ?? null,
        });
        suppressed++;
      }
      const jobId = isJobId(event.job_id) ? event.job_id : undefined;
      const job = jobId ? await this.#options.jobs.get(jobId, { consistency: "strong" }) : undefined;
      let fresh = false;
      if (job) {
        fresh = await this.#options.tracking.appendOnce({
          job_id: job.id,
          provider: event.provider,
          event_id: event.event_id,
          message_id: event.message_id ?? null,
          status: event.type,
          occurred_at: event.occurred_at,
          ...(event.type === "delivered" && { delivered_at: event.occurred_at }),
          ...(event.type === "opened" && { opened_at: event.occurred_at }),
          ...(event.type === "clicked" && { clicked_at: event.occurred_at }),
          error_message: event.reason ?? null,
        });
        if (fresh) recorded++;
        else duplicates++;
      }
      this.#options.onEvent?.(event, fresh);
    }
    if (suppressed > 0) this.#options.logger.info({ suppressed }, "addresses suppressed by provider events");
    return { recorded, duplicates, suppressed };
  }
}
