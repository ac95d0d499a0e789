import type { CampaignStatus } from "./campaign-status.ts";

interface CampaignStatesOptions {
  /** Reads a campaign's status now (undefined: no such campaign). */
  read: (id: string) => Promise<CampaignStatus | undefined>;
  /** How long a status read is trusted: a pause is seen by every worker within this. */
  maxAgeMs: number;
  now?: () => number;
}

interface Entry {
  status: CampaignStatus | undefined;
  readAt: number;
  reading?: Promise<CampaignStatus | undefined> | undefined;
}

/** How long a worker trusts a campaign's status: a pause stops its untracked jobs within this. */
export const CAMPAIGN_STATUS_MAX_AGE_MS = 500;

/** Campaigns remembered at most; a worker sees a handful at once, so this is never reached in use. */
const MAX_ENTRIES = 10_000;

/**
 * Campaign statuses as the worker needs them for untracked campaigns' jobs: each read serves every
 * job of the campaign for `maxAgeMs`, so a campaign sending thousands of emails a second costs a
 * few reads a second. While the database cannot be read, the last status known is used; with none
 * known, the read's error is thrown.
 */
export class CampaignStates {
  readonly #options: CampaignStatesOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(options: CampaignStatesOptions) {
    this.#options = options;
  }

  async status(id: string): Promise<CampaignStatus | undefined> {
    const now = (this.#options.now ?? Date.now)();
    const entry = this.#entries.get(id);
    if (entry && now - entry.readAt < this.#options.maxAgeMs) return entry.status;
    if (entry?.reading !== undefined) return entry.reading;
    const reading = this.#options.read(id).then(
      (status) => {
        if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
        this.#entries.set(id, { status, readAt: (this.#options.now ?? Date.now)() });
        return status;
      },
      (error: unknown) => {
        if (!entry) {
          this.#entries.delete(id);
          throw error;
        }
        entry.reading = undefined;
        return entry.status;
      },
    );
    if (entry) entry.reading = reading;
    else this.#entries.set(id, { status: undefined, readAt: Number.NEGATIVE_INFINITY, reading });
    return reading;
  }
}
