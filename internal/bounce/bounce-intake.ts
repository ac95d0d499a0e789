import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { UnattributedBounceRepository } from "../store/unattributed-bounce-repository.ts";
import type { EventRecorder } from "../tracking/event-recorder.ts";
import type { ProviderEvent } from "../tracking/provider-event.ts";
import { type Attribution, attributeBounce } from "./attribution.ts";
import { type BouncedRecipient, type ParsedBounce, parseBounce } from "./dsn-parser.ts";
import type { ReturnPath } from "./return-path.ts";

export interface ReceivedMessage {
  raw: Buffer;
  /** The envelope sender; null for the null reverse-path (<>) bounces are sent with. */
  mailFrom: string | null;
  rcptTo: readonly string[];
  remoteAddress?: string | undefined;
  receivedAt: Date;
}

/** recorded and duplicate went to the event recorder; the others were kept for an operator. */
export type BounceOutcome = "recorded" | "duplicate" | "not_a_bounce" | "no_status" | "no_job";

export interface IntakeResult {
  outcome: BounceOutcome;
  job_id: string | undefined;
  events: ProviderEvent[];
}

interface BounceIntakeOptions {
  returnPath: ReturnPath;
  recorder: Pick<EventRecorder, "record">;
  kept: Pick<UnattributedBounceRepository, "keep">;
  logger: Logger;
  onOutcome?: (outcome: BounceOutcome) => void;
}

/**
 * A DSN sent again (the reporting MTA retrying after a lost reply) must record once. A hard bounce is
 * final, so job and recipient identify it; delays repeat legitimately, so each report is its own
 * event, told apart by its Message-ID (or its bytes, when it has none).
 */
function eventIdFor(jobId: string, bounce: ParsedBounce, recipient: BouncedRecipient, raw: Buffer): string {
  const report =
    recipient.kind === "hard" ? "" : (bounce.message_id ?? createHash("sha256").update(raw).digest("hex"));
  const key = [jobId, recipient.recipient, recipient.kind, recipient.status, report].join("\n");
  return `dsn:${createHash("sha256").update(key).digest("hex").slice(0, 40)}`;
}

function eventsFor(
  bounce: ParsedBounce,
  attribution: Attribution,
  message: ReceivedMessage,
): ProviderEvent[] {
  const ours = bounce.original.message_id?.toLowerCase().startsWith(`<${attribution.job_id}@`);
  return bounce.recipients.map((recipient) => ({
    provider: "smtp",
    event_id: eventIdFor(attribution.job_id, bounce, recipient, message.raw),
    type: recipient.kind === "hard" ? "bounced_hard" : "bounced_soft",
    job_id: attribution.job_id,
    message_id: ours ? bounce.original.message_id : undefined,
    recipient: recipient.recipient,
    occurred_at: message.receivedAt,
    reason: [recipient.status, recipient.diagnostic].filter(Boolean).join(" "),
  }));
}

/**
 * What the bounce listener does with each message it received: parse it, find its job, and record it
 * as the provider webhooks record theirs; or, when that cannot be done, keep it. Either way it is
 * stored before this resolves, so the listener acknowledges only what is safe.
 */
export class BounceIntake {
  readonly #options: BounceIntakeOptions;

  constructor(options: BounceIntakeOptions) {
    this.#options = options;
  }

  async accept(message: ReceivedMessage): Promise<IntakeResult> {
    const bounce = parseBounce(message.raw);
    const attribution = attributeBounce(bounce, message, this.#options.returnPath);
    // Only a bounce about a message we sent is recorded: an unattributed one could be forged to
    // suppress any address, so it is kept for an operator instead.
    const unrecordable: BounceOutcome | undefined = !bounce.is_bounce
      ? "not_a_bounce"
      : bounce.recipients.length === 0
        ? "no_status"
        : attribution === undefined
          ? "no_job"
          : undefined;
    if (unrecordable !== undefined || attribution === undefined) {
      const outcome = unrecordable ?? "no_job";
      const details = describe(bounce);
      const id = await this.#options.kept.keep({
        reason: outcome,
        details,
        mail_from: message.mailFrom,
        rcpt_to: message.rcptTo,
        remote_address: message.remoteAddress ?? null,
        raw: message.raw,
      });
      this.#options.logger.warn(
        {
          outcome,
          kept_id: id,
          job_id: attribution?.job_id,
          mail_from: message.mailFrom,
          rcpt_to: message.rcptTo,
          details,
        },
        "bounce kept: not recorded as an event",
      );
      this.#options.onOutcome?.(outcome);
      return { outcome, job_id: attribution?.job_id, events: [] };
    }
    const events = eventsFor(bounce, attribution, message);
    const { recorded, duplicates } = await this.#options.recorder.record(events);
    const outcome = duplicates > 0 && recorded === 0 ? "duplicate" : "recorded";
    this.#options.logger.info(
      {
        outcome,
        job_id: attribution.job_id,
        via: attribution.via,
        format: bounce.format,
        bounces: events.map((e) => ({ type: e.type, reason: e.reason })),
      },
      "bounce received",
    );
    this.#options.onOutcome?.(outcome);
    return { outcome, job_id: attribution.job_id, events };
  }
}

/** A line an operator can read in the kept row and the log without opening the raw message. */
function describe(bounce: ParsedBounce): string {
  if (!bounce.is_bounce) return "no delivery report, failed-recipient header, or bounce sender/subject";
  if (bounce.recipients.length === 0)
    return `${bounce.format} bounce without a failed recipient and status code`;
  return bounce.recipients.map((r) => `${r.recipient}: ${r.status} ${r.diagnostic ?? ""}`.trim()).join("; ");
}
