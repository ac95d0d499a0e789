import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { JobRepository } from "../store/job-repository.ts";
import type { SuppressionList } from "../store/suppression-repository.ts";
import type { TrackingRepository } from "../store/tracking-repository.ts";
import type { TrackingClaims } from "./link-tokens.ts";

interface LinkEventsOptions {
  jobs: JobRepository;
  tracking: TrackingRepository;
  suppressions: SuppressionList;
  logger: Logger;
  now?: () => number;
}

/** Image proxies and scanners that fetch every pixel or link without a person behind it. */
const MACHINE_AGENTS =
  /GoogleImageProxy|YahooMailProxy|bingpreview|Barracuda|Mimecast|proofpoint|python-requests|curl\/|Go-http-client/i;
/** An open within this long of sending is almost always a scanner, not a reader. */
const TOO_SOON_MS = 2_000;

/** A URL can be long; the event id (at most 255 characters) carries a digest of it. */
function urlDigest(url: string): string {
  return createHash("sha256").update(url).digest("base64url").slice(0, 32);
}

/** What the service's own tracking links record: opens, clicks, one-click unsubscribes. */
export class LinkEvents {
  readonly #options: LinkEventsOptions;

  constructor(options: LinkEventsOptions) {
    this.#options = options;
  }

  /**
   * One `opened` row per job and per kind of opener (reader, machine): the first of each is what
   * open rates need, and a pixel fetched in a loop must not grow the table. Later opens are ignored
   * (the unique provider event id makes them duplicates).
   */
  async open(claims: TrackingClaims, userAgent: string | undefined): Promise<void> {
    const job = await this.#options.jobs.get(claims.j, { consistency: "strong" });
    if (!job) return;
    const now = (this.#options.now ?? Date.now)();
    const machine =
      MACHINE_AGENTS.test(userAgent ?? "") ||
      (job.sent_at !== null && now - job.sent_at.getTime() < TOO_SOON_MS);
    await this.#options.tracking.appendOnce({
      job_id: job.id,
      provider: "tracking",
      event_id: `open:${job.id}:${machine ? "machine" : "reader"}`,
      status: "opened",
      opened_at: new Date(now),
      occurred_at: new Date(now),
      machine_open: machine,
    });
  }

  /**
   * One `clicked` row per job and URL, for the same reason; the URLs are the ones the service signed
   * for the email, so they are few. An expired link records nothing.
   */
  async click(claims: TrackingClaims): Promise<void> {
    if (claims.expired) return;
    const job = await this.#options.jobs.get(claims.j, { consistency: "strong" });
    if (!job) return;
    const now = new Date((this.#options.now ?? Date.now)());
    await this.#options.tracking.appendOnce({
      job_id: job.id,
      provider: "tracking",
      event_id: `click:${job.id}:${urlDigest(claims.u ?? "")}`,
      status: "clicked",
      clicked_at: now,
      occurred_at: now,
      error_message: claims.u ?? null,
    });
  }

  async unsubscribe(claims: TrackingClaims): Promise<void> {
    if (!claims.e) return;
    await this.#options.suppressions.add({
      email: claims.e,
      reason: "unsubscribe",
      source: "list-unsubscribe",
    });
    this.#options.logger.info({ job_id: claims.j }, "recipient unsubscribed");
  }
}
