/** Priority levels of the wire format; each is a queue lane. */
export const PRIORITY_VALUES = { critical: 2, high: 1, normal: 0, low: -1 } as const;

export type Lane = keyof typeof PRIORITY_VALUES;

/** Lanes from the most to the least urgent: the order consumers read them in. */
export const LANES: readonly Lane[] = ["critical", "high", "normal", "low"];

export function laneOf(priority: number): Lane {
  if (priority >= 2) return "critical";
  if (priority === 1) return "high";
  if (priority === 0) return "normal";
  return "low";
}

export function isLane(value: string): value is Lane {
  return (LANES as readonly string[]).includes(value);
}
