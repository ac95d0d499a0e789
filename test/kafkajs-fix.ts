import { fixKafkajsPendingRequestLoop } from "../internal/queue/kafka/kafkajs-fixes.ts";

// Tests build kafkajs clients of their own (producers playing an outside service, harness queues);
// they get the same fix the service applies in createKafka.
fixKafkajsPendingRequestLoop();
