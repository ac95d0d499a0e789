import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../test/store.ts";
import { selfSignedCertificate } from "../../../test/tls.ts";
import type { CampaignService } from "../../campaign/campaign-service.ts";
import { EmailWorkerClient } from "../../client/email-worker-client.ts";
import { GetQueueStatsRequest } from "../../gen/emailworker/v1/email_worker.ts";
import type { ProviderChecks } from "../../provider/provider-checks.ts";
import type { EmailService } from "../../service/email-service.ts";
import type { TemplateService } from "../../service/template-service.ts";
import { ApiKeyAuth } from "../auth/api-key-auth.ts";
import { emailWorkerHandlers } from "./email-worker-handlers.ts";
import { GrpcServer } from "./grpc-server.ts";

/** A stand-in service: these tests are about the transport, so only GetQueueStats is answered. */
const emails = {
  stats: async () => ({
    queue: { lanes: { critical: 0, high: 0, normal: 0, low: 0 }, in_flight: 0, delayed: 0, dead: 0 },
    tracked_by_status: {},
    driver: "postgres",
  }),
} as unknown as EmailService;

describe("gRPC over TLS and mutual TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "ew-tls-"));
  let server: GrpcServer;
  let mtlsServer: GrpcServer;
  let serverCert: { key: string; cert: string };
  let clientCert: { key: string; cert: string };
  const servers: GrpcServer[] = [];

  beforeAll(async () => {
    serverCert = await selfSignedCertificate();
    clientCert = await selfSignedCertificate();
    writeFileSync(join(dir, "server.key"), serverCert.key);
    writeFileSync(join(dir, "server.crt"), serverCert.cert);
    writeFileSync(join(dir, "client-ca.crt"), clientCert.cert);
    const handlers = emailWorkerHandlers({
      emails,
      campaigns: {} as CampaignService,
      templates: {} as TemplateService,
      providerChecks: {} as ProviderChecks,
      auth: new ApiKeyAuth([]),
      draining: () => false,
      logger: silentLogger,
    });
    const tls = { certFile: join(dir, "server.crt"), keyFile: join(dir, "server.key") };
    server = new GrpcServer({ port: 0, host: "127.0.0.1", handlers, tls, logger: silentLogger });
    mtlsServer = new GrpcServer({
      port: 0,
      host: "127.0.0.1",
      handlers,
      tls: { ...tls, clientCaFile: join(dir, "client-ca.crt") },
      logger: silentLogger,
    });
    servers.push(server, mtlsServer);
  });

  afterAll(async () => {
    for (const s of servers) await s.stop(500);
    rmSync(dir, { recursive: true, force: true });
  });

  const stats = (port: number, credentials: grpc.ChannelCredentials) => {
    const client = new EmailWorkerClient({ address: `localhost:${port}`, credentials, timeoutMs: 3_000 });
    return client
      .call((c) => c.getQueueStats, GetQueueStatsRequest.fromPartial({}))
      .finally(() => client.close());
  };

  it("serves clients that trust its certificate, and refuses plaintext", async () => {
    const port = await server.start();
    const trusted = grpc.credentials.createSsl(Buffer.from(serverCert.cert));
    expect((await stats(port, trusted)).stats?.driver).toBe("postgres");
    await expect(stats(port, grpc.credentials.createInsecure())).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it("with mTLS, serves only clients presenting a certificate from its client CA", async () => {
    const port = await mtlsServer.start();
    const withCert = grpc.credentials.createSsl(
      Buffer.from(serverCert.cert),
      Buffer.from(clientCert.key),
      Buffer.from(clientCert.cert),
    );
    expect((await stats(port, withCert)).stats?.driver).toBe("postgres");
    await expect(stats(port, grpc.credentials.createSsl(Buffer.from(serverCert.cert)))).rejects.toMatchObject(
      {
        code: grpc.status.UNAVAILABLE,
      },
    );
  });
});
