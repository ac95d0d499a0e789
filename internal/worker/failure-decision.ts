import type { DeliveryErrorKind } from "../provider/delivery-error.ts";
import { deadLetterReason } from "../queue/dead-letter-reason.ts";

/** A throttled or misconfigured provider is tried again at least this much later. */
const MIN_DEFERRAL_MS = 1_000;

export interface FailedAttempt {
  kind: DeliveryErrorKind;
  code: string;
  message: string;
  /** How long the provider asked us to wait, when it said. */
  retryAfterMs?: number | undefined;
  /** Attempts made before this one. */
  attemptsBefore: number;
  maxRetries: number;
}

/**
 * What happens to a job after a failed attempt:
 * - `retry`: try again at `runAt`; `usesAttempt` is false when the provider, not the job, was at
 *   fault (throttled, misconfigured), so its attempts are kept for real failures;
 * - `fail`: give up now (a permanent error, or the attempts ran out): failed and dead-lettered.
 * `attempt` is the attempt count the next message (or the dead letter) carries.
 */
export type FailureDecision =
  | { action: "retry"; runAt: Date; attempt: number; usesAttempt: boolean; reason: string }
  | { action: "fail"; attempt: number; reason: string };

/** Decides after a failed attempt; pure: the delays come from `delayMs` (the retry policy). */
export function decideAfterFailure(
  failure: FailedAttempt,
  delayMs: (attempt: number) => number,
  now: number,
): FailureDecision {
  const attempt = failure.attemptsBefore + 1;
  const reason = deadLetterReason.failed(failure.code, failure.message);
  if (failure.kind === "throttled" || failure.kind === "config") {
    const delay = Math.max(failure.retryAfterMs ?? delayMs(attempt), MIN_DEFERRAL_MS);
    return {
      action: "retry",
      runAt: new Date(now + delay),
      attempt: failure.attemptsBefore,
      usesAttempt: false,
      reason,
    };
  }
  if (failure.kind === "transient" && attempt <= failure.maxRetries) {
    return { action: "retry", runAt: new Date(now + delayMs(attempt)), attempt, usesAttempt: true, reason };
  }
  const why =
    failure.kind === "transient"
      ? deadLetterReason.attemptsExhausted(attempt, failure.code, failure.message)
      : reason;
  return { action: "fail", attempt, reason: why };
}
