/**
 * The dead-letter reason of a message its consumers took `deliveries` times and never finished:
 * one that crashes or hangs every worker it reaches would otherwise go round the replicas forever.
 */
export function deliveryCapReason(deliveries: number): string {
  return `delivered ${deliveries} times without finishing`;
}
