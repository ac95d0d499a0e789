import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { EmailJob } from "../job/email-job.ts";
import { LANES, type Lane, laneOf } from "../job/priority.ts";
import { encodeJob, encodeTrackedReference } from "../job/queue-message.ts";
import type { PostgresQueue } from "../queue/postgres/postgres-queue.ts";
import type { JobQueue } from "../queue/queue.ts";
import type { CampaignRepository } from "../store/campaign-repository.ts";
import type { CampaignScheduleRepository } from "../store/campaign-schedule-repository.ts";
import type { JobRepository } from "../store/job-repository.ts";
import type { Database } from "../store/schema.ts";
import { nextOccurrence } from "./recurrence.ts";

/** Schedule runs one pass starts at most: a backlog of due schedules never makes one pass long. */
const MAX_RUNS_PER_PASS = 10;

interface CampaignDispatcherOptions {
  campaigns: CampaignRepository;
  /** Recurring schedules: each due occurrence starts a copy of its draft. */
  schedules?: Pick<CampaignScheduleRepository, "startDueRun">;
  jobs: Pick<JobRepository, "markEnqueued">;
  /** With `publishIn`, a queue in the service's database: untracked jobs go in the slice's transaction. */
  queue: Pick<JobQueue, "publish" | "stats"> & Partial<Pick<PostgresQueue, "publishIn">>;
  /**
   * How many messages a lane may hold waiting before dispatch stops feeding it: campaigns fill
   * their lane up to here and no further, so a million recipients never sit on the queue at once
   * and the lanes above keep their turn.
   */
  laneDepth: number;
  /** Most recipients one campaign dispatches per pass (one database transaction). */
  sliceSize: number;
  logger: Logger;
  /** A scheduled campaign started, `lateMs` after its time. */
  onStarted?: (campaign: { job_type: string; late_ms: number }) => void;
  /** Jobs put on the queue for a campaign. */
  onDispatched?: (campaign: { job_type: string }, count: number) => void;
  onCompleted?: (campaignId: string) => void;
}

/**
 * Feeds running campaigns onto the queue, run periodically on every replica: starts scheduled
 * campaigns whose time has come, then turns each running campaign's next recipients into jobs, as
 * many as its lane has room for (and its rate limit allows). A campaign's slice is taken under its
 * row lock, so replicas dispatching at once never dispatch a recipient twice; a job whose message
 * is lost between commit and publish is published again by the reconciler.
 */
export class CampaignDispatcher {
  readonly #options: CampaignDispatcherOptions;

  constructor(options: CampaignDispatcherOptions) {
    this.#options = options;
  }

  /** One pass; returns how many jobs it put on the queue. */
  async dispatch(): Promise<number> {
    await this.#startScheduledRuns();
    for (const started of await this.#options.campaigns.startDue()) {
      this.#options.logger.info(
        { campaign_id: started.id, late_ms: Math.round(started.late_ms) },
        "scheduled campaign started",
      );
      this.#options.onStarted?.(started);
    }
    const running = await this.#options.campaigns.running();
    if (running.length === 0) return 0;
    const { lanes } = await this.#options.queue.stats();
    const room = Object.fromEntries(
      LANES.map((lane) => [lane, this.#options.laneDepth - lanes[lane]]),
    ) as Record<Lane, number>;
    let dispatched = 0;
    for (const campaign of running) {
      const lane = laneOf(campaign.priority);
      // With no room, a pass still looks: a campaign whose last jobs have ended completes here.
      const slice = await this.#options.campaigns.dispatchSlice(
        campaign.id,
        Math.max(Math.min(this.#options.sliceSize, room[lane]), 0),
        (jobs, trx) => this.#publishUntracked(jobs, trx),
      );
      if (!slice) continue;
      const count = slice.jobs.length + slice.published;
      room[lane] -= count;
      dispatched += count;
      await this.publish(slice.jobs);
      if (count > 0) this.#options.onDispatched?.(campaign, count);
      if (slice.completed) {
        this.#options.logger.info({ campaign_id: campaign.id }, "campaign completed");
        this.#options.onCompleted?.(campaign.id);
      }
    }
    return dispatched;
  }

  /** Starts the runs of recurring schedules that are due (a few per pass; the next pass goes on). */
  async #startScheduledRuns(): Promise<void> {
    const { schedules } = this.#options;
    if (!schedules) return;
    for (let i = 0; i < MAX_RUNS_PER_PASS; i++) {
      const run = await schedules.startDueRun((schedule) =>
        nextOccurrence(schedule.cron, schedule.timezone, new Date()),
      );
      if (!run) return;
      this.#options.logger.info(
        { schedule_id: run.schedule_id, campaign_id: run.campaign_id, late_ms: Math.round(run.late_ms) },
        "recurring campaign started",
      );
      this.#options.onStarted?.(run);
    }
  }

  /** An untracked campaign's jobs, whole: their slice commits only once they are on the queue. */
  async #publishUntracked(jobs: EmailJob[], trx: Kysely<Database>): Promise<void> {
    if (jobs.length === 0) return;
    const messages = jobs.map((job) => ({ body: encodeJob(job), lane: laneOf(job.priority) }));
    const { queue } = this.#options;
    await (queue.publishIn ? queue.publishIn(trx, messages) : queue.publish(messages));
  }

  /**
   * Publishes campaign jobs already stored. A failure is left to the reconciler, which publishes
   * stored jobs that were never marked published.
   */
  async publish(jobs: readonly { id: string; priority: number }[]): Promise<void> {
    if (jobs.length === 0) return;
    try {
      await this.#options.queue.publish(
        jobs.map((job) => ({ body: encodeTrackedReference(job.id), lane: laneOf(job.priority) })),
      );
      await this.#options.jobs.markEnqueued(jobs.map((job) => job.id));
    } catch (error) {
      this.#options.logger.warn(
        { err: error, jobs: jobs.length },
        "campaign jobs stored but not queued; the reconciler will queue them",
      );
    }
  }
}
