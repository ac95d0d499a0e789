import { setTimeout as sleep } from "node:timers/promises";

export interface SoakJob {
  id: string;
  type: string;
  recipient_email: string;
  subject: string;
  text: string;
  tracked: boolean;
  /** The job's id: a batch resent after a lost answer then queues nothing twice. */
  idempotency_key: string;
}

interface ItemResult {
  job_id?: string;
  kind?: string;
}

/** Item failures that say "not now": the job is resent. */
const RETRYABLE = new Set(["unavailable", "resource_exhausted", "deadline_exceeded"]);

export interface IntakeTally {
  /** Jobs the service answered with a job id: each must reach the sink. */
  accepted: Set<string>;
  /** Jobs refused for good (a bug in the bench or the service: reported, never expected). */
  refused: Map<string, string>;
  /** Posts that had to be made again, whole or in part. */
  resends: number;
}

/**
 * Posts `batch` to the intake API until every job is either accepted or refused for good, as a
 * well-behaved client does: on a 503 or a lost connection it resends what was not answered, and a
 * tracked job that an earlier attempt got in (conflict) counts as accepted.
 */
export async function postUntilAnswered(base: string, batch: SoakJob[], tally: IntakeTally): Promise<void> {
  let pending = batch;
  while (pending.length > 0) {
    let results: ItemResult[] = [];
    try {
      const response = await fetch(`${base}/v1/emails`, {
        method: "POST",
        body: JSON.stringify({ jobs: pending }),
        signal: AbortSignal.timeout(30_000),
      });
      results = ((await response.json()) as { results?: ItemResult[] }).results ?? [];
    } catch {
      // No answer: nothing known, resend everything (idempotency keys and ids make it safe).
    }
    const unanswered: SoakJob[] = [];
    pending.forEach((job, i) => {
      const result = results[i];
      if (result?.job_id !== undefined || result?.kind === "conflict") tally.accepted.add(job.id);
      else if (result === undefined || RETRYABLE.has(result.kind ?? "")) unanswered.push(job);
      else tally.refused.set(job.id, result.kind ?? "unknown");
    });
    pending = unanswered;
    if (pending.length > 0) {
      tally.resends++;
      await sleep(500);
    }
  }
}

export interface ProduceOptions {
  base: string;
  jobs: number;
  /** Jobs per second offered, so that the run spans the fault schedule. */
  rate: number;
  batchSize: number;
  trackedShare: number;
  /** Posts in progress at once: a stalled one does not hold back the schedule. */
  parallel: number;
  newId: () => string;
}

/** Offers `jobs` jobs at `rate`, mixed fast and tracked, and resolves once each one is answered. */
export async function produce(options: ProduceOptions, tally: IntakeTally): Promise<void> {
  const { jobs, rate, batchSize } = options;
  const batches = Math.ceil(jobs / batchSize);
  const started = performance.now();
  let next = 0;
  const poster = async () => {
    for (let k = next++; k < batches; k = next++) {
      const due = started + ((k * batchSize) / rate) * 1000;
      await sleep(Math.max(0, due - performance.now()));
      const first = k * batchSize;
      const batch = Array.from({ length: Math.min(batchSize, jobs - first) }, (_, i) => {
        const n = first + i;
        const id = options.newId();
        // Spread evenly rather than at random, so that every run has the same mix.
        const tracked = Math.floor((n + 1) * options.trackedShare) > Math.floor(n * options.trackedShare);
        return {
          id,
          type: tracked ? "soak_tracked" : "soak_fast",
          recipient_email: `soak-${n}@example.org`,
          subject: `soak ${n}`,
          text: "soak",
          tracked,
          idempotency_key: id,
        };
      });
      await postUntilAnswered(options.base, batch, tally);
    }
  };
  await Promise.all(Array.from({ length: options.parallel }, poster));
}
