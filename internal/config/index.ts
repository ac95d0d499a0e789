export type { Config, Env } from "./config.ts";
export { loadConfig } from "./config.ts";
export type { DatabaseTargets, PostgresTarget } from "./database-targets.ts";
export { databaseTargets, maskUrl } from "./database-targets.ts";
export { formatDuration } from "./duration.ts";
export { enabledProviders } from "./enabled-providers.ts";
export type { ApiKeyConfig, ApiScope, EmailRoute, ServerRole } from "./formats.ts";
export { API_SCOPES, consumes, SERVER_ROLES, servesApi } from "./formats.ts";
