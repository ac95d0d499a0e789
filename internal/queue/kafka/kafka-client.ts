import { readFileSync } from "node:fs";
import { Kafka, type KafkaConfig, type logCreator, logLevel, type SASLOptions } from "kafkajs";
import type { Logger } from "pino";
import type { Config } from "../../config/index.ts";
import { fixKafkajsPendingRequestLoop } from "./kafkajs-fixes.ts";

type KafkaSettings = Config["queue"]["kafka"];

/** A kafkajs client from `queue.kafka`: brokers, SASL, TLS, and its log lines in ours. */
export function createKafka(settings: KafkaSettings, logger?: Logger): Kafka {
  fixKafkajsPendingRequestLoop();
  return new Kafka(kafkaConfig(settings, logger));
}

export function kafkaConfig(settings: KafkaSettings, logger?: Logger): KafkaConfig {
  const { tls, sasl } = settings;
  return {
    clientId: settings.client_id,
    brokers: settings.brokers.map((b) => b.trim()),
    connectionTimeout: 3_000,
    // Bounded so a broker outage surfaces (readiness, errors) instead of hanging a call for minutes;
    // the consumer restarts itself after a crash and resumes from the committed offsets.
    retry: { initialRetryTime: 250, maxRetryTime: 5_000, retries: 8 },
    ...(tls.enabled && {
      ssl: {
        ...(tls.ca_file && { ca: [readFileSync(tls.ca_file, "utf8")] }),
        ...(tls.cert_file && {
          cert: readFileSync(tls.cert_file, "utf8"),
          key: readFileSync(tls.key_file, "utf8"),
        }),
      },
    }),
    ...(sasl.mechanism && {
      sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions,
    }),
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger),
  };
}

function pinoLogCreator(logger: Logger | undefined): logCreator {
  return () =>
    ({ level, log }) => {
      if (!logger) return;
      const { message, ...fields } = log;
      // Producer retries are bounded on purpose (an outage must reach the caller as an error, not
      // hang it); within the bound the idempotent producer still writes each message once.
      if (message.startsWith("Limiting retries for the idempotent producer")) return;
      const line = { kafka: fields };
      if (level <= logLevel.ERROR) logger.error(line, `kafka: ${message}`);
      else if (level === logLevel.WARN) logger.warn(line, `kafka: ${message}`);
      else logger.debug(line, `kafka: ${message}`);
    };
}
