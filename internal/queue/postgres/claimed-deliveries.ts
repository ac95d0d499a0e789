import { LANES, type Lane } from "../../job/priority.ts";
import type { Delivery } from "../queue.ts";

/**
 * Deliveries claimed ahead of the fetches that hand them out: most urgent lane first, and within a
 * lane in the order they were claimed. One list per lane instead of one sorted list, because the
 * list is refilled every batch and re-sorting it cost more than the rest of the driver's bookkeeping.
 */
export class ClaimedDeliveries {
  readonly #lanes: Record<Lane, Delivery[]> = { critical: [], high: [], normal: [], low: [] };
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) this.#lanes[delivery.lane].push(delivery);
    this.#size += deliveries.length;
  }

  /** Up to `max` deliveries, most urgent first; they leave the list. */
  take(max: number): Delivery[] {
    const out: Delivery[] = [];
    for (const lane of LANES) {
      if (out.length >= max) break;
      const waiting = this.#lanes[lane];
      if (waiting.length > 0) for (const delivery of waiting.splice(0, max - out.length)) out.push(delivery);
    }
    this.#size -= out.length;
    return out;
  }
}
