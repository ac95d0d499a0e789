import { isJobId } from "../job/job-id.ts";
import type { ParsedBounce } from "./dsn-parser.ts";
import type { ReturnPath } from "./return-path.ts";

/** Which evidence named the job, strongest first. */
export type AttributionSource = "verp_recipient" | "verp_to" | "job_header" | "message_id" | "envelope_id";

export interface Attribution {
  job_id: string;
  via: AttributionSource;
}

/** Our Message-IDs are `<job_id@domain>` (messageIdFor), so the returned original's one names its job. */
function jobIdOfMessageId(messageId: string | undefined): string | undefined {
  const local = messageId?.replace(/^</, "").split("@")[0]?.toLowerCase();
  return isJobId(local) ? local : undefined;
}

/**
 * The job a bounce is about. The VERP envelope recipient comes first: the receiving MTA wrote it
 * from our MAIL FROM, so it holds even when the bounce quotes nothing of the original. Fields of
 * the quoted original come next, and the ENVID last (we do not send one, but a relay may).
 */
export function attributeBounce(
  bounce: ParsedBounce,
  envelope: { rcptTo: readonly string[] },
  returnPath: ReturnPath,
): Attribution | undefined {
  const candidates: [AttributionSource, string | undefined][] = [
    ...envelope.rcptTo.map((rcpt): [AttributionSource, string | undefined] => [
      "verp_recipient",
      returnPath.jobIdOf(rcpt),
    ]),
    ...bounce.to.map((to): [AttributionSource, string | undefined] => ["verp_to", returnPath.jobIdOf(to)]),
    ["job_header", bounce.original.job_id],
    ["message_id", jobIdOfMessageId(bounce.original.message_id)],
    ["envelope_id", bounce.envelope_id?.toLowerCase()],
  ];
  for (const [via, jobId] of candidates) if (isJobId(jobId)) return { job_id: jobId, via };
  return undefined;
}
