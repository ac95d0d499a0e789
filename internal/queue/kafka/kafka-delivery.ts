import type { KafkaMessage } from "kafkajs";
import type { Lane } from "../../job/priority.ts";
import type { Delivery } from "../queue.ts";
import type { PreviousOwners } from "./delivery-count.ts";
import type { PartitionOffsets } from "./partition-offsets.ts";
import { headerText } from "./topics.ts";

/** One assigned partition of a lane topic, as this consumer holds it. */
export interface AssignedPartition {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  readonly lane: Lane;
  readonly offsets: PartitionOffsets;
  /** What earlier owners recorded in their commit metadata. */
  readonly previous: PreviousOwners;
  /** Offsets below this were handed out by this consumer (messages go out in offset order). */
  handedBelow: number;
  /** The first unfinished message was handed out again since the last commit recorded its count. */
  deliveriesUnrecorded: boolean;
  /** False once the partition was revoked: its deliveries finish without committing. */
  current: boolean;
  /** Set while this consumer paused the partition because it holds enough of it. */
  resume: (() => void) | undefined;
}

export interface KafkaDelivery extends Delivery {
  readonly state: AssignedPartition;
  readonly offset: number;
  readonly headers: Record<string, string>;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

/** The delivery of one message read from an assigned partition. */
export function kafkaDelivery(state: AssignedPartition, message: KafkaMessage): KafkaDelivery {
  const offset = Number(message.offset);
  const headers: Record<string, string> = {};
  for (const name of Object.keys(message.headers ?? {})) {
    const value = headerText(message.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  return {
    id: `${state.topic}/${state.partition}/${offset}`,
    lane: state.lane,
    body: message.value?.toString() ?? "",
    attempt: Number(headers.attempt ?? 0) || 0,
    redelivered: offset < state.previous.handedBelow,
    // The producer's create time (or the broker's append time, as the topic is configured).
    enqueuedAt: Number(message.timestamp),
    state,
    offset,
    headers,
  };
}
