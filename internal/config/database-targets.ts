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

/** A URL fit for logs and error messages: the password is replaced by ***. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable url>";
  }
}
