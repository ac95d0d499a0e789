/**
 * Why a message was dead-lettered, as text every queue stores with it and as a cause read back from
 * that text. This module writes every reason, so the cause can be read back without a column of its
 * own in each queue backend.
 */
export type DeadLetterCause =
  /** A permanent failure: the provider refused the email, or its template cannot render. */
  | "failed"
  /** Transient failures until no attempt was left. */
  | "attempts_exhausted"
  /** Not a job: not JSON, not valid, too large. */
  | "malformed"
  /** Taken by consumers `queue.max_deliveries` times and never finished (it crashes or hangs them). */
  | "delivery_cap"
  /** A tracked reference whose row does not exist. */
  | "unknown_tracked_job";

export const deadLetterReason = {
  failed: (code: string, message: string) => `${code}: ${message}`,
  attemptsExhausted: (attempts: number, code: string, message: string) =>
    `gave up after ${attempts} attempts: ${code}: ${message}`,
  malformed: (message: string) => `malformed message: ${message}`,
  deliveryCap: (deliveries: number) => `delivered ${deliveries} times without finishing`,
  unknownTrackedJob: (id: string) => `tracked job ${id} does not exist`,
};

/** The cause of a stored reason, and the error code (`smtp_550`, `template_not_found`) when it has one. */
export function causeOf(reason: string): { cause: DeadLetterCause; code: string | undefined } {
  if (reason.startsWith("malformed message: ")) return { cause: "malformed", code: undefined };
  if (/^delivered \d+ times without finishing$/.test(reason))
    return { cause: "delivery_cap", code: undefined };
  if (/^tracked job \S+ does not exist$/.test(reason))
    return { cause: "unknown_tracked_job", code: undefined };
  const exhausted = /^gave up after \d+ attempts: ([a-z0-9_]+): /.exec(reason);
  if (exhausted) return { cause: "attempts_exhausted", code: exhausted[1] };
  return { cause: "failed", code: /^([a-z0-9_]+): /.exec(reason)?.[1] };
}
