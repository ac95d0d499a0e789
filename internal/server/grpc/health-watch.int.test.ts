import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../test/store.ts";
import type { CampaignService } from "../../campaign/campaign-service.ts";
import type { ProviderChecks } from "../../provider/provider-checks.ts";
import type { EmailService } from "../../service/email-service.ts";
import type { TemplateService } from "../../service/template-service.ts";
import { ApiKeyAuth } from "../auth/api-key-auth.ts";
import { emailWorkerHandlers } from "./email-worker-handlers.ts";
import { GrpcServer } from "./grpc-server.ts";

interface HealthWatchClient extends grpc.Client {
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

describe("grpc.health.v1 Watch and shutdown", () => {
  it("tells a watcher NOT_SERVING when draining, then ends its stream so shutdown need not wait for the deadline", {
    timeout: 20_000,
  }, async () => {
    const server = new GrpcServer({
      port: 0,
      host: "127.0.0.1",
      handlers: emailWorkerHandlers({
        emails: {} as EmailService,
        campaigns: {} as CampaignService,
        templates: {} as TemplateService,
        providerChecks: {} as ProviderChecks,
        auth: new ApiKeyAuth([]),
        draining: () => false,
        logger: silentLogger,
      }),
      logger: silentLogger,
    });
    const port = await server.start();
    const definition = protoLoader.loadSync(healthProtoPath, { enums: String });
    const Health = (
      grpc.loadPackageDefinition(definition) as unknown as {
        grpc: {
          health: {
            v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthWatchClient };
          };
        };
      }
    ).grpc.health.v1.Health;
    const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const stream = client.watch({ service: "" });
    const seen: string[] = [];
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    stream.on("data", (update: { status: string }) => seen.push(update.status));
    stream.on("error", () => {});
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));

    server.setServing(false);
    await new Promise<void>((resolve) =>
      seen.length > 1 ? resolve() : stream.once("data", () => resolve()),
    );
    // A deadline longer than the test: had the open Watch held shutdown, the test would time out.
    await server.stop(60_000);
    expect((await ended).code).toBe(grpc.status.OK);
    expect(seen).toEqual(["SERVING", "NOT_SERVING"]);
    client.close();
  });
});
