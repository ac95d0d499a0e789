import type { Logger } from "pino";
import type { EmailJob } from "../job/email-job.ts";
import type { DeliveryError } from "../provider/delivery-error.ts";
import type { Delivery } from "../queue/queue.ts";
import type { JobEnding } from "./job-completer.ts";

/** How the processor decided one delivery ends, with what its outcome and log line need. */
export interface Decided {
  ending: JobEnding;
  job?: EmailJob | undefined;
  provider?: string | undefined;
  error?: DeliveryError | undefined;
  /** Extra fields for the line that logs this ending. */
  logFields?: Record<string, unknown>;
}

/** One line per finished delivery: what became of it, with the job's fields; failures with the error. */
export function logEnding(logger: Logger, delivery: Delivery, decided: Decided, durationMs: number): void {
  const { ending, job, error, logFields } = decided;
  if (ending.kind === "dead_letter") {
    logger.warn(
      { delivery_id: delivery.id, lane: delivery.lane, reason: ending.reason, ...logFields },
      "message dead-lettered",
    );
    return;
  }
  if (job === undefined || ending.kind === "defer") return;
  const fields = {
    job_id: job.id,
    job_type: job.type,
    attempt: delivery.attempt + 1,
    tracked: job.tracked,
  };
  const failure = error && { err: error, kind: error.kind, code: error.code };
  switch (ending.kind) {
    case "sent": {
      // Sent, but not to every Cc/Bcc recipient: worth an operator's look.
      const level = logFields?.refused_recipients ? "warn" : "info";
      // Checked first: building the line costs more than the send's own bookkeeping.
      if (logger.isLevelEnabled(level))
        logger[level](
          {
            ...fields,
            recipient: job.recipient_email,
            provider: ending.provider,
            status: "sent",
            duration: Math.round(durationMs),
            ...logFields,
          },
          "email sent",
        );
      break;
    }
    case "skipped":
      logger.info({ ...fields, ...logFields }, ending.reason);
      break;
    case "suppressed":
      logger.info({ ...fields, ...logFields }, "recipient suppressed: not sent");
      break;
    case "parked":
      logger.debug({ ...fields, ...logFields }, ending.reason);
      break;
    case "sandboxed":
      // Client integration tests send these by the thousand; a tracked one is on record anyway.
      logger.debug({ ...fields, ...logFields, provider: ending.provider }, "sandbox job: composed, not sent");
      break;
    case "retry":
      logger.warn(
        { ...fields, ...failure, retry_in_ms: ending.runAt.getTime() - Date.now() },
        ending.usesAttempt ? "send failed; will retry" : "provider deferred the email",
      );
      break;
    case "fail":
      logger.error({ ...fields, ...failure }, "email failed");
      break;
  }
}
