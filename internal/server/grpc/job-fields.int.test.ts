import { createHash, randomUUID } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/postgres.ts";
import { singleProviderRouter } from "../../../test/providers.ts";
import { queueSettings } from "../../../test/queue-settings.ts";
import { RecordingProvider } from "../../../test/recording-provider.ts";
import { openMigratedRouter, silentLogger } from "../../../test/store.ts";
import { EmailWorkerClient } from "../../client/email-worker-client.ts";
import { jobToProto } from "../../client/job-to-proto.ts";
import {
  EventType,
  GetEmailJobRequest,
  JobStatus,
  ListEmailJobsRequest,
  SendEmailRequest,
} from "../../gen/emailworker/v1/email_worker.ts";
import type { EmailJob } from "../../job/email-job.ts";
import { parseJob } from "../../job/parse-job.ts";
import { decodeQueueMessage } from "../../job/queue-message.ts";
import { ProviderChecks } from "../../provider/provider-checks.ts";
import { PostgresIdempotencyStore } from "../../queue/postgres/postgres-idempotency-store.ts";
import { PostgresQueue } from "../../queue/postgres/postgres-queue.ts";
import { EmailService } from "../../service/email-service.ts";
import { TemplateService } from "../../service/template-service.ts";
import type { DatabaseRouter } from "../../store/database-router.ts";
import { JobRepository } from "../../store/job-repository.ts";
import { SuppressionRepository } from "../../store/suppression-repository.ts";
import { TemplateRepository } from "../../store/template-repository.ts";
import { TrackingRepository } from "../../store/tracking-repository.ts";
import { RenderPool } from "../../template/render-pool.ts";
import { TemplateRenderer } from "../../template/renderer.ts";
import { JobProcessor } from "../../worker/job-processor.ts";
import { RetryPolicy } from "../../worker/retry-policy.ts";
import { ApiKeyAuth } from "../auth/api-key-auth.ts";
import { emailWorkerHandlers } from "./email-worker-handlers.ts";
import { fieldViolationsOf } from "./grpc-errors.ts";
import { GrpcServer } from "./grpc-server.ts";

const sha = (key: string) => createHash("sha256").update(key).digest("hex");
const SEND_KEY = "test-send-key-not-a-secret";

/** Cc, Bcc, tags and sandbox over the gRPC API: a real port, client and PostgreSQL, and a worker. */
describe("gRPC EmailJob's cc, bcc, tags and sandbox", () => {
  let database: TestDatabase;
  let router: DatabaseRouter;
  let server: GrpcServer;
  const renderPool = new RenderPool({ threads: 1, timeoutMs: 5_000 });
  let queue: PostgresQueue;
  let jobs: JobRepository;
  let client: EmailWorkerClient;
  let processor: JobProcessor;
  const provider = new RecordingProvider();

  beforeAll(async () => {
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url, DB_CONNECT_TIMEOUT: "1s" });
    queue = new PostgresQueue({
      ...queueSettings().postgres,
      db: router.master,
      visibilityTimeoutMs: 60_000,
      pollIntervalMs: 50,
    });
    jobs = new JobRepository(router);
    const tracking = new TrackingRepository(router);
    const templates = new TemplateRepository(router);
    const renderer = new TemplateRenderer({
      source: { get: (id) => templates.get(id) },
      pool: renderPool,
      maxTemplateBytes: 512 * 1024,
    });
    const idempotency = new PostgresIdempotencyStore(router.master);
    const suppressions = new SuppressionRepository(router);
    server = new GrpcServer({
      port: 0,
      host: "127.0.0.1",
      handlers: emailWorkerHandlers({
        emails: new EmailService({
          queue,
          jobs,
          tracking,
          idempotency,
          defaultMaxRetries: 3,
          suppressions,
          logger: silentLogger,
        }),
        templates: new TemplateService({ templates, renderer, invalidate: () => {} }),
        providerChecks: new ProviderChecks({
          providers: new Map([["recording", provider]]),
          timeoutMs: 5_000,
          logger: silentLogger,
        }),
        auth: new ApiKeyAuth([{ name: "booking", sha256: sha(SEND_KEY), scopes: ["send"] }]),
        draining: () => false,
        logger: silentLogger,
      }),
      logger: silentLogger,
    });
    client = new EmailWorkerClient({
      address: `127.0.0.1:${await server.start()}`,
      apiKey: SEND_KEY,
      timeoutMs: 5_000,
    });
    processor = new JobProcessor({
      queue,
      queueName: "job-fields",
      jobs,
      tracking,
      idempotency,
      suppressions,
      suppressionFailOpen: true,
      renderer,
      router: singleProviderRouter(provider),
      retryPolicy: new RetryPolicy({ baseDelayMs: 60_000, factor: 2, maxDelayMs: 600_000, jitter: 0 }),
      defaultMaxRetries: 3,
      claimLeaseMs: 60_000,
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    client?.close();
    await server?.stop(1_000);
    await renderPool.stop();
    await router?.destroy();
    await database?.drop();
  });

  const wire = (fields: Record<string, unknown> = {}) => ({
    type: "invoice",
    recipient_email: `ada-${randomUUID()}@example.org`,
    subject: "Invoice {{n}}",
    text: "Invoice {{n}} attached",
    template_data: { n: 7 },
    cc: ["Bob <bob@example.org>", "carol@example.org"],
    bcc: ["audit@example.org"],
    tags: ["billing", "eu:west"],
    ...fields,
  });

  /** Sent the way emailctl sends: the wire format validated, then its gRPC form. */
  const sendJob = (fields: Record<string, unknown> = {}) =>
    client.call(
      (c) => c.sendEmail,
      SendEmailRequest.fromPartial({ job: jobToProto(parseJob(wire(fields))) }),
    );

  /** Works every message on the queue, as a worker would. */
  async function drain(): Promise<void> {
    for (let deliveries = await queue.fetch(100); deliveries.length > 0; deliveries = await queue.fetch(100))
      for (const delivery of deliveries) await processor.process(delivery);
  }

  const queuedJob = async (id: string): Promise<EmailJob | undefined> => {
    for (const delivery of await queue.fetch(100)) {
      const content = decodeQueueMessage(delivery.body, () => randomUUID());
      await queue.ack(delivery);
      if (content.kind === "job" && content.job.id === id) return content.job;
    }
    return undefined;
  };

  it("carries cc, bcc, tags and sandbox from emailctl's proto to the queued wire-format job", async () => {
    const { job_id } = await sendJob({ sandbox: true });
    expect(await queuedJob(job_id)).toMatchObject({
      cc: [{ email: "bob@example.org", name: "Bob" }, { email: "carol@example.org" }],
      bcc: [{ email: "audit@example.org" }],
      tags: ["billing", "eu:west"],
      sandbox: true,
    });
  });

  it("shows a tracked job's tags, sandbox flag and Cc/Bcc addresses, and lists jobs by tags", async () => {
    const tag = `run-${randomUUID().slice(0, 8)}`;
    const first = await sendJob({ tracked: true, tags: [tag, "billing"] });
    const second = await sendJob({ tracked: true, tags: [tag], cc: [], bcc: [] });
    const { job: view } = await client.call(
      (c) => c.getEmailJob,
      GetEmailJobRequest.fromPartial({ id: first.job_id }),
    );
    expect(view).toMatchObject({
      tags: [tag, "billing"],
      sandbox: false,
      cc: ["bob@example.org", "carol@example.org"],
      bcc: ["audit@example.org"],
    });
    const listed = async (tags: string[]) =>
      (await client.call((c) => c.listEmailJobs, ListEmailJobsRequest.fromPartial({ tags }))).jobs
        .map((j) => j.id)
        .sort();
    expect(await listed([tag])).toEqual([first.job_id, second.job_id].sort());
    expect(await listed([tag, "billing"])).toEqual([first.job_id]);
    await drain();
  });

  it("ends a tracked sandbox job JOB_STATUS_SANDBOXED with its event, having sent nothing", async () => {
    const { job_id } = await sendJob({ tracked: true, sandbox: true });
    await drain();
    const { job: view } = await client.call(
      (c) => c.getEmailJob,
      GetEmailJobRequest.fromPartial({ id: job_id }),
    );
    expect(view).toMatchObject({
      status: JobStatus.JOB_STATUS_SANDBOXED,
      sandbox: true,
      provider: "recording",
    });
    expect(view?.events.map((e) => e.status)).toEqual([EventType.EVENT_TYPE_SANDBOXED]);
    expect(provider.sent.filter((e) => e.job_id === job_id)).toEqual([]);
    const composed = provider.composed.find((c) => c.email.job_id === job_id);
    expect(composed?.message.toString()).toContain("Invoice 7 attached");
    const { jobs: listed } = await client.call(
      (c) => c.listEmailJobs,
      ListEmailJobsRequest.fromPartial({ status: [JobStatus.JOB_STATUS_SANDBOXED] }),
    );
    expect(listed.map((j) => j.id)).toContain(job_id);
  });

  it("refuses a bad Cc address or tag naming the field, as for recipient_email", async () => {
    const error = await client
      .call(
        (c) => c.sendEmail,
        SendEmailRequest.fromPartial({
          job: {
            type: "invoice",
            recipient_email: "ada@example.org",
            subject: "Invoice",
            text: "Attached",
            cc: [{ email: "bob@example.org" }, { email: "not-an-address" }],
            bcc: [{ email: "" }],
            tags: ["ok", "not ok"],
          },
        }),
      )
      .catch((e: grpc.ServiceError) => e);
    expect(
      fieldViolationsOf(error as grpc.ServiceError)
        .map((v) => v.field)
        .sort(),
    ).toEqual(["bcc[0].email", "cc[1].email", "tags[1]"]);
  });
});
