import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/index.ts";
import { kafkaConfig } from "./kafka-client.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const settings = (env: Record<string, string>) =>
  loadConfig({ env: { QUEUE_DRIVER: "kafka", ...env }, file: false }).queue.kafka;

describe("kafka client settings", () => {
  it("connects in plain text without SASL by default", () => {
    const config = kafkaConfig(settings({ KAFKA_BROKERS: "k1:9092, k2:9092" }));
    expect(config.brokers).toEqual(["k1:9092", "k2:9092"]);
    expect(config.ssl).toBeUndefined();
    expect(config.sasl).toBeUndefined();
    expect(config.clientId).toBe("email-worker");
  });

  it("passes SASL credentials and reads the TLS files", () => {
    const dir = mkdtempSync(join(tmpdir(), "ew-kafka-tls-"));
    dirs.push(dir);
    for (const name of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, name), `${name} contents`);
    const config = kafkaConfig(
      settings({
        KAFKA_SASL_MECHANISM: "scram-sha-256",
        KAFKA_SASL_USERNAME: "worker",
        KAFKA_SASL_PASSWORD: "not-a-real-password",
        KAFKA_TLS: "true",
        KAFKA_TLS_CA_FILE: join(dir, "ca.pem"),
        KAFKA_TLS_CERT_FILE: join(dir, "cert.pem"),
        KAFKA_TLS_KEY_FILE: join(dir, "key.pem"),
      }),
    );
    expect(config.sasl).toEqual({
      mechanism: "scram-sha-256",
      username: "worker",
      password: "not-a-real-password",
    });
    expect(config.ssl).toEqual({
      ca: ["ca.pem contents"],
      cert: "cert.pem contents",
      key: "key.pem contents",
    });
  });
});
