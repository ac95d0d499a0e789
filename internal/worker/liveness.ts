/**
 * How long the consumer loop may go without a tick before the process counts as stuck: twice its
 * longest wait. The loop waits at most a poll interval for messages, or a job's time limit for a
 * free slot.
 */
export function livenessThresholdMs(processTimeoutMs: number, pollIntervalMs: number): number {
  return 2 * (processTimeoutMs + pollIntervalMs);
}
