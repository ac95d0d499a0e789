export type { Config, Env, LoadConfigOptions } from "./config.ts";
export { ConfigError, loadConfig } from "./config.ts";
export type { DatabaseTargets, PostgresTarget } from "./database-targets.ts";
export { databaseTargets, maskUrl } from "./database-targets.ts";
export { formatDuration, parseDuration } from "./duration.ts";
export { enabledProviders } from "./enabled-providers.ts";
export type { ApiKeyConfig, EmailRoute, ProviderName, SmtpAccount } from "./formats.ts";
export { PROVIDERS } from "./formats.ts";
