import type { AssignedPartition } from "./kafka-delivery.ts";

/**
 * What the partition's previous owners left in their last commit. Kafka keeps no delivery count per
 * message, so the queue keeps one for the message that matters: the partition's first unfinished
 * one, which is where a message that crashes or hangs every consumer it reaches stays stuck.
 */
export interface PreviousOwners {
  /** Offsets below this were handed out by the previous owner. */
  handedBelow: number;
  /** The committed offset: the first message not finished. */
  offset: number;
  /** How often that message was handed out, by every owner before this one. */
  deliveries: number;
}

export const NO_PREVIOUS_OWNERS: PreviousOwners = { handedBelow: 0, offset: -1, deliveries: 0 };

/**
 * How often the partition's first unfinished message has been handed out, by earlier owners and by
 * this one. Earlier owners' counts are known for the offset they committed; a later message they
 * handed out (and whose count they could not record) counts once.
 */
export function firstUnfinishedDeliveries(state: AssignedPartition): number {
  const first = state.offsets.committable;
  const { previous } = state;
  const before = first === previous.offset ? previous.deliveries : first < previous.handedBelow ? 1 : 0;
  return before + (first < state.handedBelow ? 1 : 0);
}
