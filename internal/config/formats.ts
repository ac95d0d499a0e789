import convict from "convict";
import { PROVIDER_NAMES, type ProviderName } from "../job/provider-names.ts";
import { parseDuration } from "./duration.ts";
import { postgresUrlProblem } from "./postgres-url.ts";

export interface SmtpAccount {
  username: string;
  password: string;
  /** Messages this account may send per UTC day; 0 = no cap. */
  daily_limit: number;
}

export interface EmailRoute {
  /** Glob over the job type, e.g. `payment_*`. */
  job_type: string;
  /** Providers in order of preference; the next one is used when the previous fails over. */
  providers: string[];
}

export interface ApiKeyConfig {
  name: string;
  /** Hex SHA-256 of the key: the clear key never sits in configuration. */
  sha256: string;
  scopes: string[];
}

function fail(message: string): never {
  throw new TypeError(message);
}

function validatePostgresUrl(value: unknown): void {
  if (typeof value !== "string") fail("must be a PostgreSQL URL");
  const problem = postgresUrlProblem(value);
  if (problem !== undefined) fail(problem);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `user:pass;user2:pass2` (the Go service's EMAIL_ACCOUNTS) or a YAML list of accounts. */
function coerceAccounts(value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (value.trim() === "") return [];
  return value.split(";").map((entry) => {
    const at = entry.indexOf(":");
    return at < 0
      ? { username: entry.trim(), password: "" }
      : { username: entry.slice(0, at).trim(), password: entry.slice(at + 1) };
  });
}

function validateAccounts(value: unknown): void {
  if (!Array.isArray(value)) fail("must be a list of {username, password} or 'user:pass;user2:pass2'");
  value.forEach((account, index) => {
    if (!isRecord(account)) fail(`entry ${index} must be an object with username and password`);
    if (typeof account.username !== "string" || account.username === "")
      fail(`entry ${index} needs a username`);
    if (typeof account.password !== "string") fail(`entry ${index} needs a password`);
    const limit = account.daily_limit ?? 0;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0)
      fail(`entry ${index}: daily_limit must be a whole number >= 0`);
    account.daily_limit = limit;
  });
}

function coerceJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (value.trim() === "") return [];
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function validateRoutes(value: unknown): void {
  if (!Array.isArray(value)) fail("must be a list of {job_type, providers}");
  value.forEach((route, index) => {
    if (!isRecord(route)) fail(`entry ${index} must be an object with job_type and providers`);
    if (typeof route.job_type !== "string" || route.job_type === "")
      fail(`entry ${index} needs a job_type glob`);
    const providers = route.providers;
    if (!Array.isArray(providers) || providers.length === 0)
      fail(`entry ${index} needs a non-empty providers list`);
    for (const name of providers) {
      if (!PROVIDER_NAMES.includes(name as ProviderName))
        fail(`entry ${index}: provider ${JSON.stringify(name)} is not one of ${PROVIDER_NAMES.join(", ")}`);
    }
  });
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;
/** What an API key may be allowed: sending email, and managing templates, jobs and suppressions. */
export const DKIM_ALGORITHMS = ["rsa-sha256", "ed25519-sha256"] as const;

export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number];

/** One DKIM signing key: mail whose From domain is `domain` (or a subdomain of it) is signed with it. */
export interface DkimKeyConfig {
  domain: string;
  selector: string;
  /** PEM, or a file holding it. */
  private_key?: string;
  private_key_file?: string;
  algorithm?: DkimAlgorithm;
}

function validateDkimKeys(value: unknown): void {
  if (!Array.isArray(value))
    fail("must be a list of {domain, selector, private_key | private_key_file, algorithm}");
  value.forEach((entry: unknown, index) => {
    const key = entry as Partial<DkimKeyConfig> | null;
    if (typeof key !== "object" || key === null) fail(`entry ${index} must be an object`);
    if (typeof key.domain !== "string" || !/^[A-Za-z0-9.-]+$/.test(key.domain))
      fail(`entry ${index}: domain must be a domain name`);
    if (typeof key.selector !== "string" || !/^[A-Za-z0-9._-]+$/.test(key.selector))
      fail(`entry ${index} (${key.domain}): selector must be letters, digits, '.', '_' or '-'`);
    if (!key.private_key === !key.private_key_file)
      fail(`entry ${index} (${key.domain}): give exactly one of private_key and private_key_file`);
    if (key.algorithm !== undefined && !DKIM_ALGORITHMS.includes(key.algorithm))
      fail(`entry ${index} (${key.domain}): algorithm must be one of ${DKIM_ALGORITHMS.join(", ")}`);
  });
}

/**
 * What one process does: `all` takes emails and sends them; `api` takes them (and answers queries,
 * webhooks, links, the console) and runs the periodic duties; `worker` only consumes and sends.
 */
export const SERVER_ROLES = ["all", "api", "worker"] as const;

export type ServerRole = (typeof SERVER_ROLES)[number];

/** Whether a process of `role` takes messages off the queue. */
export function consumes(role: ServerRole): boolean {
  return role !== "api";
}

/** Whether a process of `role` serves the API, webhooks, links and the console. */
export function servesApi(role: ServerRole): boolean {
  return role !== "worker";
}

/**
 * `send`: send email and read jobs and templates; `campaign`: create and run campaigns; `admin`:
 * everything (templates, suppressions, dead letters, campaigns).
 */
export const API_SCOPES = ["send", "campaign", "admin"] as const;

export type ApiScope = (typeof API_SCOPES)[number];

function validateApiKeys(value: unknown): void {
  if (!Array.isArray(value)) fail("must be a list of {name, sha256, scopes}");
  const names = new Set<string>();
  value.forEach((key, index) => {
    if (!isRecord(key)) fail(`entry ${index} must be an object`);
    if (typeof key.name !== "string" || key.name === "") fail(`entry ${index} needs a name`);
    // Logs and console sessions name the key: two of one name could not be told apart.
    if (names.has(key.name)) fail(`entry ${index}: the name "${key.name}" is used by another key`);
    names.add(key.name);
    if (typeof key.sha256 !== "string" || !HEX_SHA256.test(key.sha256))
      fail(`entry ${index} (${key.name}): sha256 must be 64 lowercase hex characters`);
    const scopes = key.scopes ?? ["send"];
    if (!Array.isArray(scopes) || scopes.some((s) => !API_SCOPES.includes(s)))
      fail(`entry ${index} (${key.name}): scopes must be a list of ${API_SCOPES.join(", ")}`);
    key.scopes = scopes;
  });
}

/**
 * convict keeps custom formats in a process-wide registry; registering is idempotent, so doing it on
 * every load (rather than at import) keeps modules free of import-time side effects.
 */
export function registerFormats(): void {
  convict.addFormats({
    duration: {
      validate(value: unknown) {
        if (typeof value !== "number") fail("must be a duration such as 500ms, 5s, 1m, 1h or 1h30m");
      },
      coerce: (value: unknown) => parseDuration(value) ?? value,
    },
    "smtp-accounts": { validate: validateAccounts, coerce: coerceAccounts },
    "email-routes": { validate: validateRoutes, coerce: coerceJson },
    "api-keys": { validate: validateApiKeys, coerce: coerceJson },
    "session-secret": {
      validate(value: unknown) {
        if (typeof value !== "string") fail("must be a string");
        // Anyone holding a key gets a cookie signed with it: a short secret could be guessed offline.
        if (value !== "" && Buffer.byteLength(value) < 32)
          fail(
            "must be at least 32 bytes (e.g. openssl rand -base64 32), or empty for a random one per process",
          );
      },
    },
    "dkim-keys": { validate: validateDkimKeys, coerce: coerceJson },
    "postgres-url": { validate: validatePostgresUrl },
  });
}
