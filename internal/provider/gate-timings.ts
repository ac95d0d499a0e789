/**
 * A provider gate's timings from a job's time limit. Waiting for the provider's turn uses the job's
 * time: at most half of it, and never over 5 s. A concurrency slot is freed if held 5 s past the
 * longest a send can take, so a crashed holder cannot keep it.
 */
export function gateTimings(processTimeoutMs: number): { maxWaitMs: number; leaseMs: number } {
  return { maxWaitMs: Math.min(5_000, processTimeoutMs / 2), leaseMs: processTimeoutMs + 5_000 };
}
