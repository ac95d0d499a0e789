/** A provider's circuit as email_provider_circuit_state reports it: 0 closed, 1 half-open, 2 open. */
export function circuitStateValue(state: "closed" | "half-open" | "open"): number {
  return state === "closed" ? 0 : state === "half-open" ? 1 : 2;
}

/** email_database_replica_up: 1 only while reads go to the replica. */
export function replicaUpValue(state: "none" | "up" | "down"): number {
  return state === "up" ? 1 : 0;
}
