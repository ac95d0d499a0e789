import { mockBrokerBinary } from "./kafka-broker.ts";
import { hasKafkaBroker } from "./outside-tools.ts";

/**
 * Runs once before the test files: builds the Kafka mock broker (about 45 s the first time, cached
 * after) so parallel test files do not race to build it. Test processes inherit the path. Without a
 * C compiler outside CI the Kafka tests skip themselves instead (test/outside-tools.ts).
 */
export function setup(): void {
  if (process.env.KAFKA_BROKERS) return;
  if (process.env.CI || hasKafkaBroker()) mockBrokerBinary();
}
