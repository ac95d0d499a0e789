import { type CampaignStatus as CampaignStatusName, isCampaignStatus } from "../campaign/campaign-status.ts";
import {
  CampaignStatus,
  DeadLetterCause,
  EventType,
  JobStatus,
  Priority,
} from "../gen/emailworker/v1/email_worker.ts";
import { laneOf } from "../job/priority.ts";
import { isJobStatus, type JobStatus as JobStatusName } from "../job/status.ts";

/**
 * The API's enums and the service's own words for the same things (the strings of the JSON wire
 * format and the database). Every enum value is the word upper-cased behind its prefix, so one rule
 * maps both ways; a word the enum does not know maps to UNSPECIFIED rather than failing a read.
 */
function byWord<E extends Record<string, number>>(enumObject: E, prefix: string) {
  return {
    toProto(word: string): E[keyof E] {
      const value = enumObject[`${prefix}${word.toUpperCase()}` as keyof E];
      return value ?? (enumObject[`${prefix}UNSPECIFIED` as keyof E] as E[keyof E]);
    },
    fromProto(value: number): string | undefined {
      const name = Object.keys(enumObject).find((key) => enumObject[key] === value);
      if (!name?.startsWith(prefix) || name === `${prefix}UNSPECIFIED`) return undefined;
      return name.slice(prefix.length).toLowerCase();
    },
  };
}

const jobStatuses = byWord(JobStatus, "JOB_STATUS_");
const eventTypes = byWord(EventType, "EVENT_TYPE_");
const priorities = byWord(Priority, "PRIORITY_");
const deadLetterCauses = byWord(DeadLetterCause, "DEAD_LETTER_CAUSE_");
const campaignStatuses = byWord(CampaignStatus, "CAMPAIGN_STATUS_");

export function campaignStatusToProto(status: string): CampaignStatus {
  return campaignStatuses.toProto(status);
}

/** The status a request names, or undefined for UNSPECIFIED or a value this server does not know. */
export function campaignStatusFromProto(value: CampaignStatus): CampaignStatusName | undefined {
  const word = campaignStatuses.fromProto(value);
  return word !== undefined && isCampaignStatus(word) ? word : undefined;
}

export function campaignStatusWord(value: CampaignStatus): string {
  return campaignStatuses.fromProto(value) ?? "unspecified";
}

export function deadLetterCauseToProto(cause: string): DeadLetterCause {
  return deadLetterCauses.toProto(cause);
}

export function deadLetterCauseWord(value: DeadLetterCause): string {
  return deadLetterCauses.fromProto(value) ?? "unspecified";
}

export function jobStatusToProto(status: string): JobStatus {
  return jobStatuses.toProto(status);
}

/** The status a request names, or undefined for UNSPECIFIED or a value this server does not know. */
export function jobStatusFromProto(value: JobStatus): JobStatusName | undefined {
  const word = jobStatuses.fromProto(value);
  return word !== undefined && isJobStatus(word) ? word : undefined;
}

export function eventTypeToProto(status: string): EventType {
  return eventTypes.toProto(status);
}

/** The words of a job view's enums, for JSON (emailctl --json prints what the HTTP API would). */
export function jobStatusWord(value: JobStatus): string {
  return jobStatuses.fromProto(value) ?? "unspecified";
}

export function eventTypeWord(value: EventType): string {
  return eventTypes.fromProto(value) ?? "unspecified";
}

export function priorityWord(value: Priority): string {
  return priorities.fromProto(value) ?? "normal";
}

/** A lane's word (low, normal, high, critical) as the request's enum; UNSPECIFIED for another word. */
export function priorityFromWord(word: string): Priority {
  return priorities.toProto(word);
}

/** A stored priority (−1 low … 2 critical) as the request's enum. */
export function priorityToProto(priority: number): Priority {
  return priorities.toProto(laneOf(priority));
}
