/**
 * libpq's multi-host URL form, `postgres://user@h1:5432,h2:5433/db?target_session_attrs=read-write`,
 * which node-postgres does not understand: it takes one host. Parsed here so that the store can try
 * each host itself and node-postgres only ever sees single-host URLs.
 */

export const TARGET_SESSION_ATTRS = ["any", "read-write", "read-only", "primary", "standby"] as const;

export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

export interface PostgresHost {
  host: string;
  port: number;
}

export interface PostgresUrl {
  hosts: PostgresHost[];
  targetSessionAttrs: TargetSessionAttrs;
  /** The same URL naming only `host`, without target_session_attrs (node-postgres would pass it on). */
  forHost(host: PostgresHost): string;
}

const DEFAULT_PORT = 5432;
const URL_SHAPE = /^(postgres(?:ql)?):\/\/(?:([^@]*)@)?([^/?#]*)([^?#]*)(\?[^#]*)?$/;

function parseHost(spec: string): PostgresHost {
  const bracketed = /^\[([^\]]+)\](?::(\d*))?$/.exec(spec);
  const [host, port] = bracketed ? [bracketed[1], bracketed[2]] : spec.split(":");
  if (!host) throw new Error(`a host in the host list is empty ("${spec}")`);
  if (port === undefined || port === "") return { host, port: DEFAULT_PORT };
  const number = Number(port);
  if (!/^\d+$/.test(port) || number < 1 || number > 65535)
    throw new Error(`host "${host}" has an invalid port "${port}"`);
  return { host, port: number };
}

function formatHost({ host, port }: PostgresHost): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Parses a PostgreSQL URL that names several hosts or a target_session_attrs; returns undefined for
 * any other URL, which node-postgres reads as before. Throws with a message fit for a config error
 * (it never quotes the password).
 */
export function parseMultiHostUrl(url: string): PostgresUrl | undefined {
  const match = URL_SHAPE.exec(url);
  if (!match) return undefined;
  const [, scheme, userinfo, hostList = "", path = "", query = ""] = match;
  const params = new URLSearchParams(query.slice(1));
  const attrs = params.get("target_session_attrs");
  if (!hostList.includes(",") && attrs === null) return undefined;
  if (attrs !== null && !TARGET_SESSION_ATTRS.includes(attrs as TargetSessionAttrs))
    throw new Error(`target_session_attrs "${attrs}" is not one of ${TARGET_SESSION_ATTRS.join(", ")}`);
  const hosts = hostList.split(",").map(parseHost);
  params.delete("target_session_attrs");
  const rest = params.size > 0 ? `?${params.toString()}` : "";
  const auth = userinfo === undefined ? "" : `${userinfo}@`;
  return {
    hosts,
    targetSessionAttrs: (attrs ?? "any") as TargetSessionAttrs,
    forHost: (host) => `${scheme}://${auth}${formatHost(host)}${path}${rest}`,
  };
}

/** Why `url` cannot be used as a PostgreSQL URL, or undefined when it can (an empty one included). */
export function postgresUrlProblem(url: string): string | undefined {
  try {
    parseMultiHostUrl(url);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
