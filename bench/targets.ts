// The performance targets the benches are judged by, in one place: each bench prints its figure
// against them, and `npm run bench` marks each met or missed in the README's table.

export const TARGETS = {
  /** (a) queue + worker with an instant provider: throughput against BullMQ's no-op worker. */
  queueOverheadRatio: 3,
  /** (b) fast path into an SMTP sink: throughput against BullMQ + nodemailer. */
  fastPathRatio: 3,
  /** (b) fast path: share of the raw ceiling (a minimal pipelining client into the same sink). */
  fastPathCeilingShare: 0.6,
  /** (c) tracked path throughput as a share of the fast path's. */
  trackedShareOfFastPath: 0.75,
  /** (d) `critical` p99 while a 100,000-job `low` backlog drains, ms. */
  criticalP99Ms: 50,
  /** (e) the `postgres` queue against graphile-worker. */
  postgresQueueRatio: 2,
  /** Worker peak RSS draining a 100,000-job backlog, MB (below). */
  backlogPeakRssMb: 120,
  /** API role: SendEmail p99 at `apiRate` requests/s, ms (below). */
  apiP99Ms: 10,
  apiRate: 2_000,
} as const;
