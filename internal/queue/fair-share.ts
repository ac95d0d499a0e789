import { LANES, type Lane } from "../job/priority.ts";

interface FetchPlan {
  /** Slots offered first to one lower lane, so it moves even under constant urgent load. */
  reserved: { lane: Lane; count: number } | undefined;
  /** Then every lane, most urgent first. */
  order: readonly Lane[];
}

const LOWER_LANES = LANES.slice(1);

/**
 * The anti-starvation rule shared by all drivers: a fraction (`share`) of the slots fetched over
 * time is offered to the lanes below `critical`, one lane per fetch in rotation; slots a lane
 * cannot use go back to strict priority. With share 0.1 and constant critical load, low, normal and
 * high each still get about 3% of the throughput.
 */
export class FairShare {
  readonly #share: number;
  #credit = 0;
  #turn = 0;

  constructor(share: number) {
    if (!(share >= 0 && share < 1)) throw new RangeError("fair share must be in [0, 1)");
    this.#share = share;
  }

  plan(max: number): FetchPlan {
    this.#credit += max * this.#share;
    const count = Math.min(Math.floor(this.#credit), max);
    if (count === 0) return { reserved: undefined, order: LANES };
    this.#credit -= count;
    const lane = LOWER_LANES[this.#turn++ % LOWER_LANES.length] as Lane;
    return { reserved: { lane, count }, order: LANES };
  }
}
