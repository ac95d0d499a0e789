import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.ts";

const run = promisify(execFile);

/** A PostgreSQL cluster of a test's own, which it may stop and start again. */
export interface PostgresServer {
  /** The `postgres` database of the cluster. */
  url: string;
  port: number;
  /** Stops it at once (`-m immediate`: no checkpoint, as a crash). */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** PostgreSQL's server programs: PG_BIN_DIR, else the newest Debian installation. */
export function serverBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = "/usr/lib/postgresql";
  const newest = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined;
  if (newest === undefined)
    throw new Error(
      "these tests need PostgreSQL's server binaries (initdb, pg_ctl): apt-get install postgresql",
    );
  return join(root, newest, "bin");
}

/** initdb refuses to run as root: as root, the cluster belongs to the postgres user. */
export const asRoot = process.getuid?.() === 0;

/** Runs one of the server programs (as the postgres user when we are root). */
export async function pg(bin: string, tool: string, args: string[]): Promise<void> {
  const path = join(bin, tool);
  try {
    if (asRoot) await run("runuser", ["-u", "postgres", "--", path, ...args]);
    else await run(path, args);
  } catch (error) {
    const detail = error as { stderr?: string; stdout?: string };
    throw new Error(`${tool} ${args.join(" ")} failed: ${detail.stderr || detail.stdout || error}`);
  }
}

/**
 * initdb in a temporary directory and start on a free loopback port (trust auth). No fsync: the
 * tests kill PostgreSQL, never the machine, so what reached the OS survives. Commits stay synchronous
 * (written to the OS before they are acknowledged) as in production: with synchronous_commit off, an
 * immediate stop loses jobs the service had already accepted, which the fault tests and the soak
 * would then count as lost.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = serverBinDir();
  const dir = mkdtempSync(join(tmpdir(), "ew-pg-"));
  if (asRoot) {
    const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
    const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = () => pg(bin, "pg_ctl", ["-D", data, "-l", `${data}.log`, "-o", options, "-w", "start"]);
  const stop = () => pg(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
  try {
    await pg(bin, "initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    async destroy() {
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
