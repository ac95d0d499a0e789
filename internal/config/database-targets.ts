import type { Config } from "./config.ts";

export interface PostgresTarget {
  /** libpq-style URL; may hold a password, so log it only through maskUrl. */
  url: string;
  ssl_mode: Config["database"]["ssl_mode"];
}

export type DatabaseTargets =
  | { kind: "embedded"; dir: string }
  | { kind: "postgres"; master: PostgresTarget; replica: PostgresTarget | undefined };

interface Parts {
  host: string;
  port: number;
  name: string;
  user: string;
  password: string;
}

function toUrl(parts: Parts): string {
  const auth = parts.password
    ? `${encodeURIComponent(parts.user)}:${encodeURIComponent(parts.password)}`
    : encodeURIComponent(parts.user);
  return `postgres://${auth}@${parts.host}:${parts.port}/${encodeURIComponent(parts.name)}`;
}

/**
 * Which databases to use, in the Go service's precedence: DATABASE_URL, then the DB_MASTER_* family, then the
 * legacy single-database DB_HOST family; with none of them the embedded database is used. Replica
 * fields left empty inherit the master's.
 */
export function databaseTargets(db: Config["database"]): DatabaseTargets {
  let master: Parts | undefined;
  if (db.master_host !== "") {
    master = {
      host: db.master_host,
      port: db.master_port,
      name: db.master_name,
      user: db.master_user,
      password: db.master_password,
    };
  } else if (db.host !== "") {
    master = { host: db.host, port: db.port, name: db.name, user: db.user, password: db.password };
  }
  const masterUrl = db.url !== "" ? db.url : master && toUrl(master);
  if (masterUrl === undefined) return { kind: "embedded", dir: db.embedded_dir };

  let replicaUrl: string | undefined = db.replica_url !== "" ? db.replica_url : undefined;
  if (replicaUrl === undefined && db.slave_host !== "") {
    const inherit = master ?? urlParts(masterUrl);
    replicaUrl = toUrl({
      host: db.slave_host,
      port: db.slave_port,
      name: db.slave_name || inherit.name,
      user: db.slave_user || inherit.user,
      password: db.slave_password || inherit.password,
    });
  }
  const target = (url: string): PostgresTarget => ({ url, ssl_mode: db.ssl_mode });
  return {
    kind: "postgres",
    master: target(masterUrl),
    replica: replicaUrl === undefined ? undefined : target(replicaUrl),
  };
}

function urlParts(url: string): Parts {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    name: decodeURIComponent(parsed.pathname.replace(/^\//, "")),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
}

/**
 * A URL fit for logs and error messages: the password, in the user part or as a `password`
 * parameter, is replaced by ***. Read as text rather than with the URL class, which rejects libpq's
 * multi-host form (`h1:5432,h2:5433`) and would leave nothing to log.
 */
export function maskUrl(url: string): string {
  const schemeEnd = url.indexOf("://");
  if (schemeEnd < 0) return "<unparseable url>";
  const authorityStart = schemeEnd + 3;
  const queryStart = url.search(/[?#]/);
  // The last @ before the query ends the user part, so a password holding @ or / is still covered.
  const at = url.lastIndexOf("@", queryStart < 0 ? url.length : queryStart);
  let masked = url;
  if (at >= authorityStart) {
    const colon = url.indexOf(":", authorityStart);
    if (colon >= 0 && colon < at) masked = `${url.slice(0, colon + 1)}***${url.slice(at)}`;
  }
  return masked.replace(/([?&]password=)[^&#]*/gi, "$1***");
}
