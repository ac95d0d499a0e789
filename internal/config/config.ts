import { existsSync, readFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import convict from "convict";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { KindedError } from "../errors/error-kind.ts";
import type { ProviderName } from "../job/provider-names.ts";
import { enabledProviders } from "./enabled-providers.ts";
import { registerFormats } from "./formats.ts";
import { redisProblems } from "./redis-topology.ts";
import { configSchema } from "./schema.ts";

type Schema = ReturnType<typeof configSchema>;
type Properties<S> = { [K in keyof S]: S[K] extends { default: infer D } ? D : Properties<S[K]> };

/** The validated configuration. Durations are milliseconds. */
export type Config = Properties<Schema>;

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends KindedError<"invalid_config"> {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super("invalid_config", `invalid configuration (${source}):\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

/** Other spellings the Go services used for the same setting; the canonical name wins when both are set. */
const ENV_ALIASES: Readonly<Record<string, string>> = {
  SMTP_SERVER: "SMTP_HOST",
  SMTP_USER: "SMTP_USERNAME",
  SERVER_PORT: "PORT",
};

function withAliases(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  for (const [alias, canonical] of Object.entries(ENV_ALIASES)) {
    const value = out[alias];
    if (value !== undefined && out[canonical] === undefined) out[canonical] = value;
  }
  return out;
}

interface LoadConfigOptions {
  env?: Env;
  /** Directory holding the default config.yaml. */
  cwd?: string;
  /** false: defaults and environment only, no file (tests). */
  file?: false;
}

function configFilePath(env: Env, cwd: string): string | undefined {
  const named = env.CONFIG_FILE;
  if (named !== undefined && named !== "") {
    const path = resolve(cwd, named);
    if (!existsSync(path)) throw new ConfigError("CONFIG_FILE", [`CONFIG_FILE: file not found: ${path}`]);
    return path;
  }
  const fallback = resolve(cwd, "config.yaml");
  return existsSync(fallback) ? fallback : undefined;
}

function readConfigFile(path: string): unknown {
  const text = readFileSync(path, "utf8");
  try {
    return extname(path) === ".json" ? JSON.parse(text) : (parseYaml(text) ?? {});
  } catch (error) {
    const where = error instanceof YAMLParseError ? ` at line ${error.linePos?.[0].line ?? "?"}` : "";
    throw new ConfigError(path, [`cannot parse${where}: ${(error as Error).message.split("\n")[0]}`]);
  }
}

function envNames(schema: object, prefix = "", out = new Map<string, string>()): Map<string, string> {
  for (const [key, value] of Object.entries(schema)) {
    if (typeof value !== "object" || value === null) continue;
    if ("default" in value) {
      if ("env" in value && typeof value.env === "string") out.set(`${prefix}${key}`, value.env);
    } else envNames(value, `${prefix}${key}.`, out);
  }
  return out;
}

/** An operator who set a bad value through the environment is told which variable it came from. */
function withEnvSource(problem: string, env: Env): string {
  const key = problem.slice(0, problem.indexOf(":"));
  const name = envNames(configSchema()).get(key);
  return name !== undefined && env[name] !== undefined ? `${problem} (from ${name})` : problem;
}

/**
 * Loads configuration with the precedence environment > config file (CONFIG_FILE, else ./config.yaml)
 * > defaults, and validates it strictly: an unknown key or a bad value stops start-up with a message
 * naming the key, the value (masked when sensitive) and what is allowed.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  registerFormats();
  const env = options.env ?? {};
  const cwd = options.cwd ?? process.cwd();
  const file = options.file === false ? undefined : configFilePath(env, cwd);
  const source = file ?? "defaults and environment";
  const config = convict(configSchema(), { env: withAliases(env), args: [] });
  try {
    if (file !== undefined) {
      const contents = readConfigFile(file);
      if (typeof contents !== "object" || contents === null || Array.isArray(contents))
        throw new ConfigError(file, ["the file must hold a mapping of sections (queue, database, ...)"]);
      config.load(contents);
    }
    config.validate({ allowed: "strict" });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const lines = (error as Error).message.split("\n").filter(Boolean);
    throw new ConfigError(
      source,
      lines.map((line) => withEnvSource(line, env)),
    );
  }
  const properties = config.getProperties() as Config;
  const problems = crossFieldProblems(properties);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return properties;
}

/** Rules no single key can state. */
function crossFieldProblems(config: Config): string[] {
  const problems: string[] = [];
  const { worker, queue } = config;
  if (queue.driver === "kafka") problems.push(...kafkaProblems(queue.kafka));
  problems.push(...redisProblems(queue.redis));
  if (queue.visibility_timeout <= worker.process_timeout)
    problems.push(
      `queue.visibility_timeout (${queue.visibility_timeout} ms) must be longer than worker.process_timeout ` +
        `(${worker.process_timeout} ms): a message would be handed to a second worker while the first still sends it`,
    );
  if (worker.retry_max_delay < worker.retry_delay)
    problems.push("worker.retry_max_delay must be at least worker.retry_delay");
  if (worker.retry_factor < 1)
    problems.push(`worker.retry_factor must be at least 1: value was ${worker.retry_factor}`);
  if (!(worker.bulk_share > 0 && worker.bulk_share <= 1))
    problems.push(`worker.bulk_share must be within (0, 1]: value was ${worker.bulk_share}`);
  if (worker.retry_jitter < 0 || worker.retry_jitter > 1)
    problems.push(`worker.retry_jitter must be within 0..1: value was ${worker.retry_jitter}`);
  if (queue.fair_share < 0 || queue.fair_share >= 1)
    problems.push(`queue.fair_share must be within [0, 1): value was ${queue.fair_share}`);
  if (worker.worker_count < 1) problems.push("worker.worker_count must be at least 1");
  const enabled = enabledProviders(config.email);
  if (!enabled.includes(config.email.default_provider))
    problems.push(
      `email.default_provider is "${config.email.default_provider}", which is not configured ` +
        `(configured: ${enabled.join(", ")}); set its credentials or choose another`,
    );
  config.email.routes.forEach((route, index) => {
    if (!route.providers.some((p) => enabled.includes(p as ProviderName)))
      problems.push(
        `email.routes[${index}] (${route.job_type}): none of ${route.providers.join(", ")} is configured`,
      );
  });
  for (const name of config.email.fallback_providers) {
    if (!enabled.includes(name as ProviderName))
      problems.push(
        `email.fallback_providers: "${name}" is not a configured provider (configured: ${enabled.join(", ")})`,
      );
  }
  const { smtp } = config.email.providers;
  if (smtp.verp && !/^[^@\s]+@[^@\s]+$/.test(smtp.return_path))
    problems.push(
      "email.providers.smtp.verp needs return_path (an address such as bounces@bounces.example.com): VERP adds the job id to its local part",
    );
  const dkim = config.email.dkim;
  const single = [dkim.domain, dkim.selector, dkim.private_key];
  if (single.some(Boolean) && !single.every(Boolean))
    problems.push(
      "email.dkim.domain, selector and private_key go together: set all three, or none and use email.dkim.keys",
    );
  if (config.bounce.listen_port !== 0 && !smtp.return_path)
    problems.push(
      "bounce.listen_port takes bounces addressed to email.providers.smtp.return_path: set it (with verp, a bounce names its job)",
    );
  const { tracking } = config;
  const tracked = [...tracking.open_tracking, ...tracking.click_tracking, ...tracking.unsubscribe];
  if (tracked.length > 0 && (!tracking.base_url || !tracking.secret))
    problems.push(
      "tracking.open_tracking / click_tracking / unsubscribe need tracking.base_url (this service's public URL) and tracking.secret",
    );
  if (tracking.secret && tracking.secret.length < 16)
    problems.push("tracking.secret must be at least 16 characters (it signs tracking links)");
  try {
    new RegExp(config.tracking.sns_certificate_host);
  } catch {
    problems.push(
      `tracking.sns_certificate_host is not a regular expression: ${config.tracking.sns_certificate_host}`,
    );
  }
  if (config.email.circuit_breaker.failure_threshold < 1)
    problems.push("email.circuit_breaker.failure_threshold must be at least 1");
  if (config.email.providers.sendgrid.api_key && !config.email.providers.sendgrid.from_email)
    problems.push(
      "email.providers.sendgrid.from_email is required with an API key (SendGrid needs a verified sender)",
    );
  const { server } = config;
  if ((server.tls_cert_file === "") !== (server.tls_key_file === ""))
    problems.push("server.tls_cert_file and server.tls_key_file must be set together");
  if (server.tls_client_ca_file !== "" && server.tls_cert_file === "")
    problems.push("server.tls_client_ca_file (mTLS) needs server.tls_cert_file and server.tls_key_file");
  if (worker.batch_size < 1) problems.push("worker.batch_size must be at least 1");
  return problems;
}

function kafkaProblems(kafka: Config["queue"]["kafka"]): string[] {
  const problems: string[] = [];
  if (kafka.brokers.length === 0 || kafka.brokers.some((b) => !/^[^\s:]+:\d+$/.test(b.trim())))
    problems.push(
      `queue.kafka.brokers (KAFKA_BROKERS) must list host:port pairs: value was ${JSON.stringify(kafka.brokers)}`,
    );
  if (kafka.sasl.mechanism !== "" && (kafka.sasl.username === "" || kafka.sasl.password === ""))
    problems.push(
      `queue.kafka.sasl.mechanism is ${kafka.sasl.mechanism}: set queue.kafka.sasl.username and password (KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD)`,
    );
  if ((kafka.tls.cert_file === "") !== (kafka.tls.key_file === ""))
    problems.push("queue.kafka.tls.cert_file and key_file go together (mutual TLS needs both)");
  if (kafka.partitions < 1) problems.push("queue.kafka.partitions must be at least 1");
  if (kafka.max_in_flight_per_partition < 1)
    problems.push("queue.kafka.max_in_flight_per_partition must be at least 1");
  return problems;
}
