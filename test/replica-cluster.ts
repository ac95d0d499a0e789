import { execFile } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.ts";
import { asRoot, pg, serverBinDir } from "./postgres-server.ts";

const run = promisify(execFile);

/** A PostgreSQL primary and a streaming replica of it, in a temporary directory, on free ports. */
export interface ReplicaCluster {
  primaryUrl: string;
  replicaUrl: string;
  primaryPort: number;
  replicaPort: number;
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  /** Stops the primary at once (`-m immediate`: no checkpoint, as a crash). */
  stopPrimary(): Promise<void>;
  /** Makes the replica a primary (`pg_ctl promote`), returning once it accepts writes. */
  promoteReplica(): Promise<void>;
  destroy(): Promise<void>;
}

export interface ReplicaClusterOptions {
  /**
   * The primary acknowledges a commit only once the replica has it (synchronous_standby_names), so
   * that a failover loses nothing acknowledged, as a failover setup that promises no loss runs it.
   */
  synchronous?: boolean;
}

export async function startReplicaCluster(options: ReplicaClusterOptions = {}): Promise<ReplicaCluster> {
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
  // Only the primary waits for a standby: a promoted replica has none and must not wait for one.
  const primaryOptions = (port: number) =>
    options.synchronous
      ? `${serverOptions(port)} -c synchronous_commit=on -c synchronous_standby_names=*`
      : serverOptions(port);
  const start = (data: string, port: number, opts = serverOptions(port)) =>
    pg(bin, "pg_ctl", ["-D", data, "-l", `${data}.log`, "-o", opts, "-w", "start"]);
  const stop = (data: string, mode: string) =>
    pg(bin, "pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]).catch(() => {});

  try {
    await pg(bin, "initdb", ["-D", primary, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    await appendFile(join(primary, "pg_hba.conf"), "\nhost replication all 127.0.0.1/32 trust\n");
    await start(primary, primaryPort, primaryOptions(primaryPort));
    await pg(bin, "pg_basebackup", [
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
    primaryPort,
    replicaPort,
    stopReplica: () => pg(bin, "pg_ctl", ["-D", replica, "-m", "fast", "-w", "stop"]),
    startReplica: () => start(replica, replicaPort),
    stopPrimary: () => pg(bin, "pg_ctl", ["-D", primary, "-m", "immediate", "-w", "stop"]),
    promoteReplica: () => pg(bin, "pg_ctl", ["-D", replica, "-w", "promote"]),
    async destroy() {
      await stop(replica, "immediate");
      await stop(primary, "immediate");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
