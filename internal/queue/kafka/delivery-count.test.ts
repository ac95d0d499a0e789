import { describe, expect, it } from "vitest";
import { firstUnfinishedDeliveries, NO_PREVIOUS_OWNERS, type PreviousOwners } from "./delivery-count.ts";
import type { AssignedPartition } from "./kafka-delivery.ts";
import { PartitionOffsets } from "./partition-offsets.ts";

function partition(committed: number, previous: PreviousOwners = NO_PREVIOUS_OWNERS): AssignedPartition {
  return {
    key: "t:0",
    topic: "t",
    partition: 0,
    lane: "normal",
    offsets: new PartitionOffsets(committed),
    previous,
    handedBelow: 0,
    deliveriesUnrecorded: false,
    current: true,
    resume: undefined,
  };
}

describe("delivery count of a partition's first unfinished message", () => {
  it("adds this owner's hand-out to what the previous owners recorded for that offset", () => {
    const state = partition(5, { handedBelow: 9, offset: 5, deliveries: 2 });
    expect(firstUnfinishedDeliveries(state)).toBe(2);
    state.offsets.start(5);
    state.handedBelow = 6;
    expect(firstUnfinishedDeliveries(state)).toBe(3);
  });

  it("counts a later message the previous owner handed out once, and starts afresh past them", () => {
    const state = partition(5, { handedBelow: 7, offset: 5, deliveries: 4 });
    for (const offset of [5, 6, 7]) state.offsets.start(offset);
    state.handedBelow = 8;
    state.offsets.finish(5);
    expect(firstUnfinishedDeliveries(state)).toBe(2);
    state.offsets.finish(6);
    expect(firstUnfinishedDeliveries(state)).toBe(1);
    state.offsets.finish(7);
    expect(firstUnfinishedDeliveries(state)).toBe(0);
  });
});
