import type { Logger } from "pino";
import { laneOf } from "../job/priority.ts";
import { encodeTrackedReference } from "../job/queue-message.ts";
import type { JobQueue } from "../queue/queue.ts";
import type { JobRepository } from "../store/job-repository.ts";

interface ReconcilerOptions {
  jobs: JobRepository;
  queue: JobQueue;
  /** How long a tracked job may look lost before it is republished. */
  graceMs: number;
  logger: Logger;
}

/** Lost jobs republished per pass: a bounded query; the next pass takes the rest. */
const RECONCILE_BATCH = 500;

/**
 * The database is the source of truth for tracked jobs: this finds the ones whose queue message was
 * lost (a crash between insert and publish, a Redis restart, a lease that ran out) and publishes
 * them again. A job that was in fact still queued gets a second message, which its claim makes
 * harmless.
 */
export class Reconciler {
  readonly #options: ReconcilerOptions;

  constructor(options: ReconcilerOptions) {
    this.#options = options;
  }

  async reconcile(): Promise<number> {
    const lost = await this.#options.jobs.takeLostJobs(this.#options.graceMs, RECONCILE_BATCH);
    if (lost.length === 0) return 0;
    await this.#options.queue.publish(
      lost.map((job) => ({
        body: encodeTrackedReference(job.id),
        lane: laneOf(job.priority),
        run_at: job.scheduled_at ?? undefined,
      })),
    );
    this.#options.logger.warn(
      { count: lost.length, job_ids: lost.slice(0, 20).map((j) => j.id) },
      "republished lost tracked jobs",
    );
    return lost.length;
  }
}
