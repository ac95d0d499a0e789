import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/free-port.ts";
import { hasPostgresServer, requires } from "../../test/outside-tools.ts";
import { type ReplicaCluster, startReplicaCluster } from "../../test/replica-cluster.ts";
import { silentLogger, testConfig } from "../../test/store.ts";
import { databaseTargets } from "../config/index.ts";
import type { DatabaseRouter } from "./database-router.ts";
import { openDatabase } from "./open-database.ts";
import type { Database } from "./schema.ts";

const postgresServer = requires(
  "the PostgreSQL server programs (initdb, pg_basebackup)",
  hasPostgresServer(),
);

const serverPort = (db: Kysely<Database>) =>
  sql<{ port: number }>`select inet_server_port() as port`.execute(db).then((r) => r.rows[0]?.port);

describe.skipIf(postgresServer.skip)(
  `multi-host DATABASE_URL against a real primary and streaming replica${postgresServer.label}`,
  () => {
    let cluster: ReplicaCluster;
    let deadPort: number;
    const routers: DatabaseRouter[] = [];
    const hosts = (...ports: number[]) => ports.map((port) => `127.0.0.1:${port}`).join(",");

    async function open(url: string, replicaUrl?: string): Promise<DatabaseRouter> {
      const config = testConfig({
        DATABASE_URL: url,
        ...(replicaUrl && { DATABASE_REPLICA_URL: replicaUrl }),
        DB_CONNECT_TIMEOUT: "1s",
      });
      const { router } = await openDatabase({
        targets: databaseTargets(config.database),
        settings: config.database,
        logger: silentLogger,
      });
      routers.push(router);
      return router;
    }

    beforeAll(async () => {
      cluster = await startReplicaCluster();
      deadPort = await freePort();
    });

    afterAll(async () => {
      for (const router of routers) await router.destroy();
      await cluster?.destroy();
    });

    it("connects to the read-write server even when the standby is listed first", async () => {
      const { primaryPort, replicaPort } = cluster;
      const router = await open(
        `postgres://postgres@${hosts(replicaPort, primaryPort)}/postgres?target_session_attrs=read-write`,
      );
      expect(await serverPort(router.master)).toBe(primaryPort);
    });

    it("sends replica reads to the standby with target_session_attrs=standby", async () => {
      const { primaryPort, replicaPort } = cluster;
      const router = await open(
        `postgres://postgres@${hosts(primaryPort)}/postgres`,
        `postgres://postgres@${hosts(primaryPort, replicaPort)}/postgres?target_session_attrs=standby`,
      );
      expect(await router.read(serverPort)).toBe(replicaPort);
    });

    it("skips a host that refuses connections and uses the next", async () => {
      const router = await open(`postgres://postgres@${hosts(deadPort, cluster.primaryPort)}/postgres`);
      expect(await serverPort(router.master)).toBe(cluster.primaryPort);
    });

    it("refuses to start when no host matches, naming the hosts tried but no password", async () => {
      const url = `postgres://postgres:hunter2@${hosts(deadPort, cluster.replicaPort)}/postgres?target_session_attrs=primary`;
      const error = await open(url).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toContain(`127.0.0.1:${cluster.replicaPort} cannot be used: it is not primary`);
      expect(error?.message).toContain("postgres:***@");
      expect(error?.message).not.toContain("hunter2");
    });

    it("finds the promoted replica for new connections after the primary stops, without reopening", async () => {
      const { primaryPort, replicaPort } = cluster;
      const router = await open(
        `postgres://postgres@${hosts(primaryPort, replicaPort)}/postgres?target_session_attrs=read-write`,
      );
      expect(await serverPort(router.master)).toBe(primaryPort);
      await cluster.stopPrimary();
      // The pooled connection to the stopped primary fails once and is discarded.
      await serverPort(router.master).catch(() => undefined);
      await cluster.promoteReplica();
      expect(await serverPort(router.master)).toBe(replicaPort);
      const { rows } = await sql<{ in_recovery: boolean }>`select pg_is_in_recovery() as in_recovery`.execute(
        router.master,
      );
      expect(rows[0]?.in_recovery).toBe(false);
    });
  },
);
