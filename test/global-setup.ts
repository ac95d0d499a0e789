import { mockBrokerBinary } from "./kafka-broker.ts";

/**
 * Runs once before the test files: builds the Kafka mock broker (about 45 s the first time, cached
 * after) so parallel test files do not race to build it. Test processes inherit the path.
 */
export function setup(): void {
  if (!process.env.KAFKA_BROKERS) mockBrokerBinary();
}
