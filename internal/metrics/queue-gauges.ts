import type { Metrics } from "./metrics.ts";

interface QueueStatsSource {
  stats(): Promise<{
    lanes: Record<string, number>;
    in_flight: number;
    delayed: number;
    dead: number;
  }>;
}

/** Copies the queue's depth into the gauges (run periodically, not per scrape: scrapes stay cheap). */
export async function refreshQueueGauges(metrics: Metrics, queue: QueueStatsSource): Promise<void> {
  const stats = await queue.stats();
  for (const [lane, size] of Object.entries(stats.lanes)) metrics.queueSize.set({ lane }, size);
  metrics.queueInFlight.set(stats.in_flight);
  metrics.queueDelayed.set(stats.delayed);
  metrics.deadLetterSize.set(stats.dead);
}
