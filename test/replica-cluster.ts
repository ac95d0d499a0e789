import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A PostgreSQL primary and a streaming replica of it, in a temporary directory, on free ports. */
export interface ReplicaCluster {
  primaryUrl: string;
  replicaUrl: string;
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  destroy(): Promise<void>;
}

function serverBinDir(): string {
  const override = process.env.PG_BIN_DIR;
  if (override) return override;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(
      "the replica tests need the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup): " +
        "install them with `apt-get install -y postgresql`, or set PG_BIN_DIR to their directory",
    );
  }
  return join(root, newest, "bin");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** initdb refuses to run as root: as root, the cluster belongs to the postgres user. */
const asRoot = process.getuid?.() === 0;

async function pgCommand(bin: string, tool: string, args: string[]): Promise<void> {
  const path = join(bin, tool);
  try {
    if (asRoot) await run("runuser", ["-u", "postgres", "--", path, ...args]);
    else await run(path, args);
  } catch (error) {
    const detail = error as { stderr?: string; stdout?: string };
    throw new Error(`${tool} ${args.join(" ")} failed: ${detail.stderr || detail.stdout || error}`);
  }
}

export async function startReplicaCluster(): Promise<ReplicaCluster> {
  const bin = serverBinDir();
  const dir = mkdtempSync(join(tmpdir(), "ew-replica-"));
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const primary = join(dir, "primary");
  const replica = join(dir, "replica");
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const serverOptions = (port: number) =>
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`;
  const start = (data: string, port: number) =>
    pgCommand(bin, "pg_ctl", ["-D", data, "-l", `${data}.log`, "-o", serverOptions(port), "-w", "start"]);
  const stop = (data: string, mode: string) =>
    pgCommand(bin, "pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]).catch(() => {});

  try {
    await pgCommand(bin, "initdb", [
      "-D",
      primary,
      "-A",
      "trust",
      "-U",
      "postgres",
      "--no-sync",
      "-E",
      "UTF8",
    ]);
    await appendFile(join(primary, "pg_hba.conf"), "\nhost replication all 127.0.0.1/32 trust\n");
    await start(primary, primaryPort);
    await pgCommand(bin, "pg_basebackup", [
      ...["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres"],
      ...["-D", replica, "-R", "-X", "stream", "-c", "fast"],
    ]);
    await start(replica, replicaPort);
  } catch (error) {
    await stop(replica, "immediate");
    await stop(primary, "immediate");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    primaryUrl: `postgres://postgres@127.0.0.1:${primaryPort}/postgres`,
    replicaUrl: `postgres://postgres@127.0.0.1:${replicaPort}/postgres`,
    stopReplica: () => pgCommand(bin, "pg_ctl", ["-D", replica, "-m", "fast", "-w", "stop"]),
    startReplica: () => start(replica, replicaPort),
    async destroy() {
      await stop(replica, "immediate");
      await stop(primary, "immediate");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
