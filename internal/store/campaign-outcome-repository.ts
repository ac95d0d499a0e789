import { sql } from "kysely";
import type { CampaignStatus } from "../campaign/campaign-status.ts";
import type { DatabaseRouter } from "./database-router.ts";
import { StatementBatcher } from "./statement-batcher.ts";

/** What became of an untracked campaign's recipient: parked while its campaign is paused, or how its job ended. */
export type CampaignOutcome = "parked" | "sent" | "failed" | "suppressed" | "cancelled";

export interface RecipientOutcome {
  campaign_id: string;
  /** The recipient's seq in the campaign's audience. */
  recipient: number;
  outcome: CampaignOutcome;
}

/** Outcomes moved into the campaign's counters (parked is not an ending: it moves none). */
const COUNTED = ["sent", "failed", "suppressed", "cancelled"] as const;

/**
 * Untracked campaigns' side of the worker: their jobs have no row, so the worker reads the
 * campaign's status here (to park or drop its jobs) and records each recipient's outcome on the
 * recipient's row, moving the campaign's counters with it. Calls made close together go out as one
 * statement each (see StatementBatcher): a campaign's jobs finish by the thousand per second.
 */
export class CampaignOutcomeRepository {
  readonly #router: DatabaseRouter;
  readonly #outcomes = new StatementBatcher<RecipientOutcome, boolean>((inputs) => this.#recordMany(inputs));
  readonly #statuses = new StatementBatcher<string, CampaignStatus | undefined>((ids) =>
    this.#statusesOf(ids),
  );

  constructor(router: DatabaseRouter) {
    this.#router = router;
  }

  /** The campaign's status, read from the master (a pause must be seen at once); undefined if it is gone. */
  status(id: string): Promise<CampaignStatus | undefined> {
    return this.#statuses.call(id);
  }

  async #statusesOf(ids: string[]): Promise<(CampaignStatus | undefined)[]> {
    const rows = await this.#router.master
      .selectFrom("email_campaigns")
      .select(["id", "status"])
      .where("id", "in", [...new Set(ids)])
      .execute();
    const byId = new Map(rows.map((row) => [row.id, row.status as CampaignStatus]));
    return ids.map((id) => byId.get(id));
  }

  /**
   * Records the outcome of the recipient's job, once: a recipient already ended keeps its first
   * outcome (a redelivered job is not counted again), and a parked one may only end. Returns false
   * when a park is refused because the campaign runs again (resumed since the worker looked): the
   * job must then go back on the queue, as resuming publishes only the recipients parked before it.
   */
  record(outcome: RecipientOutcome): Promise<boolean> {
    return this.#outcomes.call(outcome);
  }

  async #recordMany(inputs: RecipientOutcome[]): Promise<boolean[]> {
    const keyOf = (input: RecipientOutcome) => `${input.campaign_id}/${input.recipient}`;
    return this.#router.master.transaction().execute(async (trx) => {
      // The campaigns' rows are locked (in one order, so concurrent batches cannot deadlock) so that a
      // park and a resume are seen in one order: parked before the resume, or refused after it.
      const campaignIds = [...new Set(inputs.map((input) => input.campaign_id))].sort();
      const campaigns = await trx
        .selectFrom("email_campaigns")
        .select(["id", "status"])
        .where("id", "in", campaignIds)
        .orderBy("id")
        .forUpdate()
        .execute();
      const running = new Set(campaigns.filter((c) => c.status === "running").map((c) => c.id));
      const refused = new Set(
        inputs.filter((i) => i.outcome === "parked" && running.has(i.campaign_id)).map(keyOf),
      );
      // One row per recipient: should a batch name one twice, its last outcome is the one offered.
      const offered = new Map(inputs.filter((i) => !refused.has(keyOf(i))).map((i) => [keyOf(i), i]));
      if (offered.size > 0) {
        const list = [...offered.values()];
        const { rows } = await sql<{ campaign_id: string; outcome: CampaignOutcome }>`
          update email_campaign_recipients r set outcome = i.outcome
          from unnest(${list.map((i) => i.campaign_id)}::uuid[], ${list.map((i) => i.recipient)}::bigint[],
                      ${list.map((i) => i.outcome)}::text[]) as i(campaign_id, seq, outcome)
          where r.campaign_id = i.campaign_id and r.seq = i.seq
            and (r.outcome is null or (r.outcome = 'parked' and i.outcome <> 'parked'))
          returning r.campaign_id, i.outcome`.execute(trx);
        const deltas = new Map<string, Record<(typeof COUNTED)[number], number>>();
        for (const row of rows) {
          if (row.outcome === "parked") continue;
          const delta = deltas.get(row.campaign_id) ?? { sent: 0, failed: 0, suppressed: 0, cancelled: 0 };
          delta[row.outcome]++;
          deltas.set(row.campaign_id, delta);
        }
        for (const [id, d] of deltas)
          await sql`select email_campaign_count(${id}::uuid, ${d.sent}, ${d.failed}, ${d.suppressed}, ${d.cancelled})`.execute(
            trx,
          );
      }
      return inputs.map((input) => !refused.has(keyOf(input)));
    });
  }
}
