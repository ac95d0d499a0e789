/**
 * A campaign's life: draft → scheduled (a start time ahead) or running; running ↔ paused; running →
 * completed once every recipient's job has ended; anything not yet ended → cancelled.
 */
const CAMPAIGN_STATUSES = ["draft", "scheduled", "running", "paused", "completed", "cancelled"] as const;

export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export function isCampaignStatus(value: string): value is CampaignStatus {
  return (CAMPAIGN_STATUSES as readonly string[]).includes(value);
}

/** Recipients may still be added: nothing has ended it. */
export const OPEN_STATUSES: readonly CampaignStatus[] = ["draft", "scheduled", "running", "paused"];

/** What each action moves a campaign from. */
export const TRANSITIONS = {
  start: ["draft"],
  pause: ["running", "scheduled"],
  resume: ["paused"],
  cancel: ["draft", "scheduled", "running", "paused"],
} as const satisfies Record<string, readonly CampaignStatus[]>;

export type CampaignAction = keyof typeof TRANSITIONS;
