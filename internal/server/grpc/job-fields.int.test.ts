import { randomUUID } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcTestService, startGrpcTestService } from "../../../test/grpc-service.ts";
import { singleProviderRouter } from "../../../test/providers.ts";
import { RecordingProvider } from "../../../test/recording-provider.ts";
import { silentLogger } from "../../../test/store.ts";
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
import { CampaignOutcomeRepository } from "../../store/campaign-outcome-repository.ts";
import { JobProcessor } from "../../worker/job-processor.ts";
import { RetryPolicy } from "../../worker/retry-policy.ts";
import { fieldViolationsOf } from "./grpc-errors.ts";

/** Cc, Bcc, tags and sandbox over the gRPC API: a real port, client and PostgreSQL, and a worker. */
describe("gRPC EmailJob's cc, bcc, tags and sandbox", () => {
  let service: GrpcTestService;
  let queue: GrpcTestService["queue"];
  let client: GrpcTestService["send"];
  let processor: JobProcessor;
  const provider = new RecordingProvider();

  beforeAll(async () => {
    service = await startGrpcTestService({ providers: new Map([["recording", provider]]) });
    ({ queue, send: client } = service);
    const { jobs, tracking, idempotency, suppressions, renderer } = service;
    processor = new JobProcessor({
      queue,
      queueName: "job-fields",
      jobs,
      tracking,
      idempotency,
      campaigns: new CampaignOutcomeRepository(service.router),
      campaignOutcomes: new CampaignOutcomeRepository(service.router),
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
    await service?.close();
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
