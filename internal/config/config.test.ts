import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";
import { databaseTargets, maskUrl } from "./database-targets.ts";
import { enabledProviders } from "./enabled-providers.ts";

const dirs: string[] = [];
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "ew-config-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const load = (env: Record<string, string>) => loadConfig({ env, file: false });

function failure(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("runs on the embedded defaults with nothing configured", () => {
    const config = load({});
    expect(config.queue.driver).toBe("postgres");
    expect(config.email.default_provider).toBe("outbox");
    expect(config.worker).toMatchObject({ worker_count: 5, max_retries: 3, retry_delay: 5_000 });
    expect(config.server).toMatchObject({ port: 8080, grpc_port: 50060 });
    expect(databaseTargets(config.database)).toEqual({ kind: "embedded", dir: "./data/pg" });
  });

  it("maps every environment variable of the Go service to its key", () => {
    const config = load({
      REDIS_HOST: "redis.internal",
      REDIS_PORT: "6380",
      REDIS_PASSWORD: "redis-pass",
      REDIS_DB: "2",
      DB_MASTER_HOST: "pg-master",
      DB_MASTER_PORT: "5444",
      DB_MASTER_NAME: "emails",
      DB_MASTER_USER: "app",
      DB_MASTER_PASSWORD: "master-pass",
      DB_SLAVE_HOST: "pg-replica",
      DB_SLAVE_PORT: "5445",
      DB_SLAVE_NAME: "emails_ro",
      DB_SLAVE_USER: "reader",
      DB_SLAVE_PASSWORD: "replica-pass",
      DB_SSL_MODE: "require",
      DB_MAX_OPEN_CONNS: "40",
      DB_MAX_IDLE_CONNS: "8",
      DB_CONN_MAX_LIFETIME: "10m",
      SENDGRID_API_KEY: "SG.fake",
      SENDGRID_FROM_EMAIL: "noreply@example.com",
      AWS_SES_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "AKIAFAKE",
      AWS_SECRET_ACCESS_KEY: "fake-secret",
      SMTP_HOST: "smtp.example.com",
      SMTP_PORT: "2525",
      SMTP_USERNAME: "mailer",
      SMTP_PASSWORD: "smtp-pass",
      WORKER_COUNT: "12",
      QUEUE_NAME: "mail-jobs",
      MAX_RETRIES: "6",
      LOG_LEVEL: "debug",
    });
    expect(config.queue.redis).toEqual({
      url: "",
      host: "redis.internal",
      port: 6380,
      password: "redis-pass",
      db: 2,
      sentinels: [],
      sentinel_master_name: "mymaster",
      sentinel_password: "",
      cluster_nodes: [],
      hash_tags: false,
    });
    expect(config.database).toMatchObject({
      master_host: "pg-master",
      master_port: 5444,
      master_name: "emails",
      master_user: "app",
      master_password: "master-pass",
      slave_host: "pg-replica",
      slave_port: 5445,
      slave_name: "emails_ro",
      slave_user: "reader",
      slave_password: "replica-pass",
      ssl_mode: "require",
      max_open_conns: 40,
      max_idle_conns: 8,
      conn_max_lifetime: 600_000,
    });
    expect(config.email.providers.sendgrid.api_key).toBe("SG.fake");
    expect(config.email.providers.ses).toMatchObject({
      region: "eu-west-1",
      access_key: "AKIAFAKE",
      secret_key: "fake-secret",
    });
    expect(config.email.providers.smtp).toMatchObject({
      host: "smtp.example.com",
      port: 2525,
      username: "mailer",
      password: "smtp-pass",
    });
    expect(config.worker.worker_count).toBe(12);
    expect(config.queue.queue_name).toBe("mail-jobs");
    expect(config.worker.max_retries).toBe(6);
    expect(config.logging.level).toBe("debug");
    expect(databaseTargets(config.database)).toEqual({
      kind: "postgres",
      master: { url: "postgres://app:master-pass@pg-master:5444/emails", ssl_mode: "require" },
      replica: { url: "postgres://reader:replica-pass@pg-replica:5445/emails_ro", ssl_mode: "require" },
    });
  });

  it("accepts the legacy single-database variables", () => {
    const config = load({
      DB_HOST: "db",
      DB_PORT: "6543",
      DB_NAME: "mail",
      DB_USER: "u",
      DB_PASSWORD: "p@ss",
    });
    expect(databaseTargets(config.database)).toEqual({
      kind: "postgres",
      master: { url: "postgres://u:p%40ss@db:6543/mail", ssl_mode: "disable" },
      replica: undefined,
    });
  });

  it("prefers DB_MASTER_* over legacy variables, and lets replica fields inherit the master's", () => {
    const config = load({
      DB_HOST: "legacy",
      DB_MASTER_HOST: "master",
      DB_MASTER_USER: "app",
      DB_MASTER_PASSWORD: "pw",
      DB_SLAVE_HOST: "replica",
    });
    const targets = databaseTargets(config.database);
    expect(targets).toMatchObject({
      master: { url: "postgres://app:pw@master:5432/booking_system" },
      replica: { url: "postgres://app:pw@replica:5433/booking_system" },
    });
  });

  it("takes DATABASE_URL, DATABASE_REPLICA_URL and REDIS_URL forms", () => {
    const config = load({
      DATABASE_URL: "postgres://a:b@h1/db",
      DATABASE_REPLICA_URL: "postgres://a:b@h2/db",
      DB_MASTER_HOST: "ignored",
      REDIS_URL: "redis://:pw@cache:6379/1",
    });
    expect(databaseTargets(config.database)).toMatchObject({
      master: { url: "postgres://a:b@h1/db" },
      replica: { url: "postgres://a:b@h2/db" },
    });
    expect(config.queue.redis.url).toBe("redis://:pw@cache:6379/1");
  });

  it("reads the Go services' EMAIL_ACCOUNTS and their SMTP_SERVER / SMTP_USER spellings", () => {
    const config = load({ EMAIL_ACCOUNTS: "a@x.com:pw1;b@x.com:pw:2", SMTP_SERVER: "mx", SMTP_USER: "me" });
    expect(config.email.providers.smtp.accounts).toEqual([
      { username: "a@x.com", password: "pw1", daily_limit: 0 },
      { username: "b@x.com", password: "pw:2", daily_limit: 0 },
    ]);
    expect(config.email.providers.smtp).toMatchObject({ host: "mx", username: "me" });
    expect(load({ SMTP_SERVER: "old", SMTP_HOST: "new" }).email.providers.smtp.host).toBe("new");
  });

  it("reads config.yaml in the working directory, with the environment winning over it", () => {
    const cwd = dirWith({
      "config.yaml": [
        "queue:",
        "  driver: redis",
        "  queue_name: from-file",
        "worker:",
        "  worker_count: 9",
        "  retry_delay: 5m",
        "email:",
        "  routes:",
        "    - job_type: 'payment_*'",
        "      providers: [ses, outbox]",
      ].join("\n"),
    });
    const config = loadConfig({ env: { QUEUE_NAME: "from-env" }, cwd });
    expect(config.queue.driver).toBe("redis");
    expect(config.queue.queue_name).toBe("from-env");
    expect(config.worker.worker_count).toBe(9);
    expect(config.worker.retry_delay).toBe(300_000);
    expect(config.email.routes).toEqual([{ job_type: "payment_*", providers: ["ses", "outbox"] }]);
  });

  it("turns on only the outbox with the shipped config.yaml: no provider is listed without its credentials", () => {
    const repository = fileURLToPath(new URL("../..", import.meta.url));
    expect(enabledProviders(loadConfig({ env: {}, cwd: repository }).email)).toEqual(["outbox"]);
  });

  it("reads the file named by CONFIG_FILE instead, and says so when it is missing", () => {
    const cwd = dirWith({
      "config.yaml": "worker:\n  worker_count: 1\n",
      "prod.yaml": "worker:\n  worker_count: 2\n",
    });
    expect(loadConfig({ env: { CONFIG_FILE: "prod.yaml" }, cwd }).worker.worker_count).toBe(2);
    const error = failure(() => loadConfig({ env: { CONFIG_FILE: "nope.yaml" }, cwd }));
    expect(error.message).toContain("CONFIG_FILE: file not found");
  });

  it.each([
    [{ WORKER_RETRY_DELAY: "5 minutes" }, "worker.retry_delay", "5 minutes", "500ms, 5s"],
    [{ REDIS_PORT: "70000" }, "queue.redis.port", "70000", "0 - 65535"],
    [{ QUEUE_DRIVER: "rabbitmq" }, "queue.driver", "rabbitmq", "redis"],
    [{ LOG_LEVEL: "loud" }, "logging.level", "loud", "debug"],
    [{ EMAIL_ROUTES: '[{"job_type":"x","providers":["mailgun"]}]' }, "email.routes", "mailgun", "sendgrid"],
  ])("stops on %o naming the key, the value and what is allowed", (env, key, value, allowed) => {
    const error = failure(() => load(env as Record<string, string>));
    const line = error.problems.find((p) => p.startsWith(`${key}:`));
    expect(line).toBeDefined();
    expect(line).toContain(value);
    expect(line).toContain(allowed);
    expect(line).toContain(`from ${Object.keys(env)[0]}`);
  });

  it("refuses a default provider or route that nothing configures, naming what is", () => {
    const noKey = failure(() => load({ EMAIL_DEFAULT_PROVIDER: "sendgrid" }));
    expect(noKey.message).toContain(
      'email.default_provider is "sendgrid", which is not configured (configured: outbox)',
    );
    const route = failure(() => load({ EMAIL_ROUTES: '[{"job_type":"x","providers":["ses"]}]' }));
    expect(route.message).toContain("email.routes[0] (x): none of ses is configured");
    expect(failure(() => load({ SENDGRID_API_KEY: "SG.x" })).message).toContain(
      "sendgrid.from_email is required",
    );
    const ok = load({ EMAIL_DEFAULT_PROVIDER: "ses", AWS_SES_FROM_EMAIL: "noreply@example.com" });
    expect(ok.email.default_provider).toBe("ses");
  });

  it("refuses a visibility timeout no longer than the time a job may take", () => {
    const error = failure(() => load({ QUEUE_VISIBILITY_TIMEOUT: "30s", WORKER_PROCESS_TIMEOUT: "30s" }));
    expect(error.message).toContain("queue.visibility_timeout");
    expect(error.message).toContain("worker.process_timeout");
  });

  it("reads DKIM keys, return path and bounce listener settings, and names what does not go together", () => {
    const keys = '[{"domain":"shop.example","selector":"s2026","private_key_file":"/run/dkim.pem"}]';
    const ok = load({
      DKIM_KEYS: keys,
      SMTP_RETURN_PATH: "bounces@bounces.shop.example",
      SMTP_VERP: "true",
      BOUNCE_LISTEN_PORT: "2525",
      SMTP_TLS_CA_FILE: "/etc/relay-ca.pem",
    });
    expect(ok.email.dkim.keys).toEqual([
      { domain: "shop.example", selector: "s2026", private_key_file: "/run/dkim.pem" },
    ]);
    expect(ok.email.providers.smtp).toMatchObject({ verp: true, tls_ca_file: "/etc/relay-ca.pem" });
    expect(ok.bounce.listen_port).toBe(2525);
    expect(failure(() => load({ SMTP_VERP: "true" })).message).toContain("verp needs return_path");
    expect(failure(() => load({ DKIM_DOMAIN: "shop.example" })).message).toContain(
      "email.dkim.domain, selector and private_key go together",
    );
    expect(failure(() => load({ BOUNCE_LISTEN_PORT: "2525" })).message).toContain("bounce.listen_port");
    expect(
      failure(() => load({ DKIM_KEYS: '[{"domain":"shop.example","selector":"s"}]' })).message,
    ).toContain("give exactly one of private_key and private_key_file");
    expect(
      failure(() =>
        load({ DKIM_KEYS: '[{"domain":"a.example","selector":"s","private_key":"x","algorithm":"dsa"}]' }),
      ).message,
    ).toContain("algorithm must be one of rsa-sha256, ed25519-sha256");
  });

  it("reads the kafka driver's settings from the environment and names what is wrong with them", () => {
    const ok = load({
      QUEUE_DRIVER: "kafka",
      KAFKA_BROKERS: "k1:9092,k2:9093",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "worker",
      KAFKA_SASL_PASSWORD: "not-a-real-password",
      KAFKA_SESSION_TIMEOUT: "10s",
    });
    expect(ok.queue.kafka).toMatchObject({
      brokers: ["k1:9092", "k2:9093"],
      sasl: { mechanism: "scram-sha-512", username: "worker" },
      session_timeout: 10_000,
      group_id: "email-workers",
    });
    expect(failure(() => load({ QUEUE_DRIVER: "kafka", KAFKA_BROKERS: "k1" })).message).toContain(
      "queue.kafka.brokers (KAFKA_BROKERS) must list host:port pairs",
    );
    expect(failure(() => load({ QUEUE_DRIVER: "kafka", KAFKA_SASL_MECHANISM: "plain" })).message).toContain(
      "KAFKA_SASL_USERNAME",
    );
    expect(failure(() => load({ QUEUE_DRIVER: "kafka", KAFKA_SASL_MECHANISM: "gssapi" })).message).toContain(
      "queue.kafka.sasl.mechanism",
    );
  });

  it("rejects a key the schema does not know, naming it", () => {
    const cwd = dirWith({ "config.yaml": "worker:\n  wroker_count: 3\n" });
    const error = failure(() => loadConfig({ env: {}, cwd }));
    expect(error.message).toContain("worker.wroker_count");
  });

  it("names the file and line of a YAML syntax error", () => {
    const cwd = dirWith({ "config.yaml": "worker:\n  worker_count: [1,\n" });
    const error = failure(() => loadConfig({ env: {}, cwd }));
    expect(error.message).toMatch(/config\.yaml/);
    expect(error.message).toMatch(/line \d+/);
  });

  it("reads the share of slots campaigns keep while transactional mail flows, and refuses one outside (0, 1]", () => {
    expect(load({}).worker.bulk_share).toBe(0.25);
    expect(load({ WORKER_BULK_SHARE: "1" }).worker.bulk_share).toBe(1);
    for (const share of ["0", "1.5"])
      expect(failure(() => load({ WORKER_BULK_SHARE: share })).message).toContain(
        `worker.bulk_share must be within (0, 1]: value was ${share}`,
      );
  });

  it("reads the process's role, and refuses one it does not know", () => {
    expect(load({}).server.role).toBe("all");
    expect(load({ ROLE: "worker" }).server.role).toBe("worker");
    expect(failure(() => load({ ROLE: "scheduler" })).message).toContain("server.role");
  });

  it("refuses two API keys of one name and a console session secret too short to resist guessing", () => {
    const key = (name: string, digit: string) => ({ name, sha256: digit.repeat(64), scopes: ["send"] });
    const duplicated = JSON.stringify([key("ops", "a"), key("ops", "b")]);
    expect(failure(() => load({ API_KEYS: duplicated })).message).toContain(
      'the name "ops" is used by another key',
    );
    const short = failure(() => load({ CONSOLE_SESSION_SECRET: "hunter2" }));
    expect(short.message).toContain("server.console.session_secret");
    expect(short.message).toContain("at least 32 bytes");
    expect(short.message).not.toContain("hunter2");
    expect(load({ CONSOLE_SESSION_SECRET: "x".repeat(32) }).server.console.session_secret).toHaveLength(32);
  });

  it("never prints a secret, even in a validation error", () => {
    const cwd = dirWith({ "config.yaml": "database:\n  master_password: 12345\n" });
    const error = failure(() => loadConfig({ env: {}, cwd }));
    expect(error.message).toContain("database.master_password");
    expect(error.message).not.toContain("12345");
  });
});

describe("maskUrl", () => {
  it("hides the password and keeps the rest", () => {
    expect(maskUrl("postgres://app:hunter2@db:5432/mail")).toBe("postgres://app:***@db:5432/mail");
    expect(maskUrl("redis://cache:6379")).toBe("redis://cache:6379");
  });

  it("hides the password of a multi-host URL, of a password holding @ or /, and of a password parameter", () => {
    expect(maskUrl("postgres://app:hunter2@h1:5432,h2:5433/mail?target_session_attrs=read-write")).toBe(
      "postgres://app:***@h1:5432,h2:5433/mail?target_session_attrs=read-write",
    );
    expect(maskUrl("postgres://app:a@b/c@h1,h2/mail")).toBe("postgres://app:***@h1,h2/mail");
    expect(maskUrl("postgres://h1,h2/mail?user=app&password=hunter2")).toBe(
      "postgres://h1,h2/mail?user=app&password=***",
    );
    expect(maskUrl("redis://:pw@cache:6379/1")).toBe("redis://:***@cache:6379/1");
  });
});

describe("multi-host database URLs", () => {
  it("are passed on as written for the store to try host by host", () => {
    const url = "postgres://app:pw@h1:5432,h2:5433/mail?target_session_attrs=read-write";
    const replica = "postgres://app:pw@h2:5433,h1:5432/mail?target_session_attrs=standby";
    const config = load({ DATABASE_URL: url, DATABASE_REPLICA_URL: replica });
    expect(databaseTargets(config.database)).toMatchObject({ master: { url }, replica: { url: replica } });
  });

  it("are refused at start-up with the key named and the password hidden", () => {
    const bad = failure(() =>
      load({ DATABASE_URL: "postgres://app:hunter2@h1,h2/mail?target_session_attrs=master" }),
    );
    expect(bad.message).toContain("database.url");
    expect(bad.message).toContain('target_session_attrs "master"');
    expect(bad.message).not.toContain("hunter2");
    const port = failure(() => load({ DATABASE_REPLICA_URL: "postgres://app:hunter2@h1:x,h2/mail" }));
    expect(port.message).toContain("database.replica_url");
    expect(port.message).not.toContain("hunter2");
  });
});
