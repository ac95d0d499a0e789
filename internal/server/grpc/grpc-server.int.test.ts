import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import fc from "fast-check";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf, type GrpcTestService, SEND_KEY, startGrpcTestService } from "../../../test/grpc-service.ts";
import { loopbackSmtpProvider } from "../../../test/providers.ts";
import { RecordingProvider } from "../../../test/recording-provider.ts";
import { startSmtpSink } from "../../../test/smtp-sink.ts";
import { EmailWorkerClient } from "../../client/email-worker-client.ts";
import {
  AddSuppressionRequest,
  CancelEmailJobRequest,
  DeleteTemplateRequest,
  GetEmailJobRequest,
  GetQueueStatsRequest,
  GetTemplateRequest,
  JobStatus,
  ListDeadLettersRequest,
  ListEmailJobsRequest,
  ListSuppressionsRequest,
  ListTemplatesRequest,
  PreviewTemplateRequest,
  Priority,
  RemoveSuppressionRequest,
  ReplayDeadLettersRequest,
  RetryEmailJobRequest,
  SendBatchRequest,
  SendEmailRequest,
  UpsertTemplateRequest,
  VerifyProvidersRequest,
} from "../../gen/emailworker/v1/email_worker.ts";
import {
  ServerReflectionClient as ReflectionV1Client,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection.ts";
import { ServerReflectionClient as ReflectionV1alphaClient } from "../../gen/grpc/reflection/v1alpha/reflection.ts";
import type { EmailJob } from "../../job/email-job.ts";
import { JOB_LIMITS } from "../../job/parse-job.ts";
import { decodeQueueMessage } from "../../job/queue-message.ts";
import { DeliveryError } from "../../provider/delivery-error.ts";
import { fieldViolationsOf } from "./grpc-errors.ts";
import { GRPC_MAX_RECEIVE_MESSAGE_BYTES } from "./message-limits.ts";

const run = promisify(execFile);

/** The gRPC API over a real port, with a real client, on a real PostgreSQL. */
const misconfigured = new RecordingProvider("smtp");
misconfigured.verifyFailure = new DeliveryError(
  "config",
  "smtp_auth_535",
  "535 5.7.8 Authentication credentials invalid",
);

describe("gRPC EmailWorkerService", () => {
  let service: GrpcTestService;
  let database: GrpcTestService["database"];
  let server: GrpcTestService["server"];
  let queue: GrpcTestService["queue"];
  let jobs: GrpcTestService["jobs"];
  let address: string;
  let send: GrpcTestService["send"];
  let admin: GrpcTestService["admin"];
  let draining = false;

  beforeAll(async () => {
    service = await startGrpcTestService({
      providers: new Map([
        ["recording", new RecordingProvider()],
        ["smtp", misconfigured],
      ]),
      draining: () => draining,
    });
    ({ database, server, queue, jobs, address, send, admin } = service);
  });

  afterAll(async () => {
    await service?.close();
  });

  const job = (extra: Record<string, unknown> = {}) =>
    SendEmailRequest.fromPartial({
      job: {
        type: "email_verification",
        recipient_email: "ada@example.org",
        subject: "Verify",
        html: "<p>Code {{code}}</p>",
        template_data: { code: "123" },
        ...extra,
      },
    });

  /** The whole job a fast send put on the queue, as a worker would take it apart. */
  const queuedJob = async (id: string): Promise<EmailJob> => {
    for (;;) {
      for (const delivery of await queue.fetch(100)) {
        // Other tests leave messages that are not jobs (dead-letter markers): not the one sought.
        const content = (() => {
          try {
            return decodeQueueMessage(delivery.body, () => randomUUID());
          } catch {
            return undefined;
          }
        })();
        if (content?.kind === "job" && content.job.id === id) return content.job;
      }
    }
  };

  it("queues a fast email and a tracked one, and shows the tracked job with its enums as requested, also by its idempotency key", async () => {
    const fast = await send.call((c) => c.sendEmail, job({ priority: Priority.PRIORITY_HIGH }));
    expect(fast).toMatchObject({ tracked: false, duplicate: false });
    expect(fast.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await queue.stats()).lanes.high).toBeGreaterThanOrEqual(1);

    const key = `booking-${randomUUID()}`;
    const tracked = await send.call(
      (c) => c.sendEmail,
      job({
        tracked: true,
        metadata: { booking: 42 },
        priority: Priority.PRIORITY_HIGH,
        idempotency_key: key,
      }),
    );
    const { job: view } = await send.call(
      (c) => c.getEmailJob,
      GetEmailJobRequest.fromPartial({ id: tracked.job_id }),
    );
    // Enums as the request gave them, not the service's internal scale.
    expect(view).toMatchObject({
      id: tracked.job_id,
      type: "email_verification",
      status: JobStatus.JOB_STATUS_PENDING,
      priority: Priority.PRIORITY_HIGH,
      max_retries: 3,
      metadata: { booking: 42 },
    });
    // The same job, found by the idempotency key it was sent with.
    const { job: byKey } = await send.call(
      (c) => c.getEmailJob,
      GetEmailJobRequest.fromPartial({ idempotency_key: key }),
    );
    expect(byKey?.id).toBe(tracked.job_id);
    expect(
      await codeOf(
        send.call((c) => c.getEmailJob, GetEmailJobRequest.fromPartial({ idempotency_key: "never-used" })),
      ),
    ).toBe("NOT_FOUND");
  });

  it("refuses bad input with INVALID_ARGUMENT and a BadRequest naming each field", async () => {
    const error = await send
      .call((c) => c.sendEmail, job({ recipient_email: "not-an-address", subject: "a\r\nBcc: x@y.z" }))
      .catch((e: grpc.ServiceError) => e);
    expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const violations = fieldViolationsOf(error as grpc.ServiceError);
    expect(violations.map((v) => v.field).sort()).toEqual(["recipient_email", "subject"]);
  });

  it("returns the original job for a repeated idempotency key", async () => {
    const key = randomUUID();
    const first = await send.call((c) => c.sendEmail, job({ idempotency_key: key, tracked: true }));
    const again = await send.call((c) => c.sendEmail, job({ idempotency_key: key, tracked: true }));
    expect(again).toMatchObject({ job_id: first.job_id, duplicate: true });
  });

  it("accepts a batch item by item", async () => {
    const result = await send.call(
      (c) => c.sendBatch,
      SendBatchRequest.fromPartial({
        jobs: [job().job ?? {}, { type: "x", recipient_email: "bad" }, job({ tracked: true }).job ?? {}],
      }),
    );
    expect(result).toMatchObject({ accepted: 2, rejected: 1 });
    expect(result.items[1]?.error?.violations.map((v) => v.field)).toContain("recipient_email");
    expect(result.items[0]?.accepted?.job_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("lists tracked jobs with filters and page tokens", async () => {
    const type = `listed_${randomUUID().slice(0, 6)}`;
    for (let i = 0; i < 5; i++) await send.call((c) => c.sendEmail, job({ type, tracked: true }));
    const seen = new Set<string>();
    let token = "";
    do {
      const page = await send.call(
        (c) => c.listEmailJobs,
        ListEmailJobsRequest.fromPartial({
          type,
          page_size: 2,
          page_token: token,
          status: [JobStatus.JOB_STATUS_PENDING],
        }),
      );
      for (const j of page.jobs) seen.add(j.id);
      token = page.next_page_token;
    } while (token);
    expect(seen.size).toBe(5);
    expect(
      await codeOf(
        send.call((c) => c.listEmailJobs, ListEmailJobsRequest.fromPartial({ page_token: "garbage" })),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await codeOf(
        send.call(
          (c) => c.listEmailJobs,
          ListEmailJobsRequest.fromPartial({ status: [JobStatus.JOB_STATUS_UNSPECIFIED] }),
        ),
      ),
    ).toBe("INVALID_ARGUMENT");
  });

  it("cancels a pending job (again: the same answer), refuses one in progress with FAILED_PRECONDITION, and NOT_FOUND for unknown ids", async () => {
    const { job_id } = await send.call((c) => c.sendEmail, job({ tracked: true }));
    const cancel = (id: string) =>
      send.call((c) => c.cancelEmailJob, CancelEmailJobRequest.fromPartial({ id }));
    expect((await cancel(job_id)).job?.status).toBe(JobStatus.JOB_STATUS_CANCELLED);
    expect((await cancel(job_id)).job?.status).toBe(JobStatus.JOB_STATUS_CANCELLED);
    const { job_id: claimed } = await send.call((c) => c.sendEmail, job({ tracked: true }));
    await jobs.claim(claimed, 60_000);
    expect(await codeOf(cancel(claimed))).toBe("FAILED_PRECONDITION");
    expect(
      await codeOf(send.call((c) => c.getEmailJob, GetEmailJobRequest.fromPartial({ id: randomUUID() }))),
    ).toBe("NOT_FOUND");
    expect(await codeOf(send.call((c) => c.getEmailJob, GetEmailJobRequest.fromPartial({ id: "42" })))).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("retries a failed job (admin only) and refuses one that has not failed", async () => {
    const { job_id } = await send.call((c) => c.sendEmail, job({ tracked: true }));
    expect(
      await codeOf(admin.call((c) => c.retryEmailJob, RetryEmailJobRequest.fromPartial({ id: job_id }))),
    ).toBe("FAILED_PRECONDITION");
    await jobs.claim(job_id, 60_000);
    await jobs.markFailed(job_id, "smtp_550: rejected");
    expect(
      await codeOf(send.call((c) => c.retryEmailJob, RetryEmailJobRequest.fromPartial({ id: job_id }))),
    ).toBe("PERMISSION_DENIED");
    const { job: retried } = await admin.call(
      (c) => c.retryEmailJob,
      RetryEmailJobRequest.fromPartial({ id: job_id }),
    );
    expect(retried).toMatchObject({ status: JobStatus.JOB_STATUS_PENDING, retry_count: 0 });
  });

  it("lists and replays dead letters, with a dry run first", async () => {
    const marker = `marker-${randomUUID()}`;
    await queue.publish([{ body: JSON.stringify({ marker }), lane: "low" }]);
    let delivery = (await queue.fetch(100)).find((d) => d.body.includes(marker));
    while (!delivery) delivery = (await queue.fetch(100)).find((d) => d.body.includes(marker));
    await queue.deadLetter(delivery, `malformed message: ${marker}`);
    const listed = await admin.call(
      (c) => c.listDeadLetters,
      ListDeadLettersRequest.fromPartial({ reason_contains: marker }),
    );
    expect(listed.dead_letters).toHaveLength(1);
    const id = listed.dead_letters[0]?.id ?? "";
    const dry = await admin.call(
      (c) => c.replayDeadLetters,
      ReplayDeadLettersRequest.fromPartial({ reason_contains: marker, dry_run: true }),
    );
    expect(dry).toEqual({ replayed_ids: [id], missing_ids: [], dry_run: true });
    expect((await queue.listDeadLetters(1000)).some((l) => l.id === id)).toBe(true);
    const real = await admin.call(
      (c) => c.replayDeadLetters,
      ReplayDeadLettersRequest.fromPartial({ ids: [id, "999999999"] }),
    );
    expect(real).toEqual({ replayed_ids: [id], missing_ids: ["999999999"], dry_run: false });
    expect(await codeOf(send.call((c) => c.listDeadLetters, ListDeadLettersRequest.fromPartial({})))).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("verifies the providers' configuration on demand (admin only), saying why one fails", async () => {
    const { checks } = await admin.call((c) => c.verifyProviders, VerifyProvidersRequest.fromPartial({}));
    expect(checks).toEqual([
      expect.objectContaining({
        provider: "recording",
        state: "ok",
        detail: "records what it is given",
        code: "",
      }),
      expect.objectContaining({
        provider: "smtp",
        state: "failed",
        detail: "535 5.7.8 Authentication credentials invalid",
        code: "smtp_auth_535",
      }),
    ]);
    expect(await codeOf(send.call((c) => c.verifyProviders, VerifyProvidersRequest.fromPartial({})))).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("reports queue statistics", async () => {
    const { stats } = await send.call((c) => c.getQueueStats, GetQueueStatsRequest.fromPartial({}));
    expect(stats?.driver).toBe("postgres");
    expect(Object.keys(stats?.lanes ?? {}).sort()).toEqual(["critical", "high", "low", "normal"]);
    expect(stats?.tracked_by_status.pending).toBeGreaterThanOrEqual(1);
  });

  it("manages and previews templates, refusing one that cannot render", async () => {
    const id = `tpl_${randomUUID().slice(0, 6)}`;
    const template = {
      id,
      name: "Receipt",
      subject: "Receipt {{.order}}",
      html_template: "<p>{{.order}}</p>",
      variables: ["order"],
    };
    // Not saying whether it is active makes it active (proto3 `optional`), as a new template is.
    const { template: saved } = await admin.call(
      (c) => c.upsertTemplate,
      UpsertTemplateRequest.fromPartial({ template }),
    );
    expect(saved).toMatchObject({ id, name: "Receipt", variables: ["order"], is_active: true });
    expect(
      (await send.call((c) => c.getTemplate, GetTemplateRequest.fromPartial({ id }))).template?.subject,
    ).toBe("Receipt {{.order}}");
    const listed = await send.call(
      (c) => c.listTemplates,
      ListTemplatesRequest.fromPartial({ active: true }),
    );
    expect(listed.templates.map((t) => t.id)).toContain(id);
    const preview = await send.call(
      (c) => c.previewTemplate,
      PreviewTemplateRequest.fromPartial({ template_id: id, data: { order: "A-1<2>" } }),
    );
    expect(preview).toEqual({ subject: "Receipt A-1<2>", html: "<p>A-1&lt;2&gt;</p>", text: "A-1<2>" });
    expect(
      await codeOf(
        send.call(
          (c) => c.previewTemplate,
          PreviewTemplateRequest.fromPartial({ template_id: id, data: {} }),
        ),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await codeOf(
        admin.call(
          (c) => c.upsertTemplate,
          UpsertTemplateRequest.fromPartial({
            template: { id, name: "Broken", html_template: "{{#if x}}open" },
          }),
        ),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(await codeOf(send.call((c) => c.deleteTemplate, DeleteTemplateRequest.fromPartial({ id })))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await admin.call((c) => c.deleteTemplate, DeleteTemplateRequest.fromPartial({ id }))).toEqual({
      deleted: true,
    });
    expect(await codeOf(send.call((c) => c.getTemplate, GetTemplateRequest.fromPartial({ id })))).toBe(
      "NOT_FOUND",
    );
  });

  it("manages the suppression list (admin only), validating the address", async () => {
    const email = `Someone-${randomUUID().slice(0, 6)}@Example.org`;
    const added = await admin.call(
      (c) => c.addSuppression,
      AddSuppressionRequest.fromPartial({ email, details: "asked by phone" }),
    );
    expect(added.suppression).toMatchObject({
      email: email.toLowerCase(),
      reason: "manual",
      source: "api",
      details: "asked by phone",
    });
    const listed = await admin.call(
      (c) => c.listSuppressions,
      ListSuppressionsRequest.fromPartial({ contains: email.slice(0, 12) }),
    );
    expect(listed.suppressions.map((s) => s.email)).toEqual([email.toLowerCase()]);
    expect(
      await admin.call((c) => c.removeSuppression, RemoveSuppressionRequest.fromPartial({ email })),
    ).toEqual({ removed: true });
    expect(
      await codeOf(
        admin.call((c) => c.addSuppression, AddSuppressionRequest.fromPartial({ email: "not an address" })),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await codeOf(
        admin.call((c) => c.addSuppression, AddSuppressionRequest.fromPartial({ email, reason: "because" })),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(await codeOf(send.call((c) => c.listSuppressions, ListSuppressionsRequest.fromPartial({})))).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("refuses callers without a key or with an unknown one", async () => {
    const anonymous = new EmailWorkerClient({ address });
    const wrong = new EmailWorkerClient({ address, apiKey: "wrong" });
    expect(await codeOf(anonymous.call((c) => c.sendEmail, job()))).toBe("UNAUTHENTICATED");
    expect(await codeOf(wrong.call((c) => c.sendEmail, job()))).toBe("UNAUTHENTICATED");
    anonymous.close();
    wrong.close();
  });

  it("serves grpc.health.v1 without a key, following readiness", async () => {
    const definition = protoLoader.loadSync(healthProtoPath, { enums: String });
    const Health = (
      grpc.loadPackageDefinition(definition) as unknown as {
        grpc: { health: { v1: { Health: typeof grpc.Client } } };
      }
    ).grpc.health.v1.Health;
    const health = new Health(address, grpc.credentials.createInsecure()) as grpc.Client & {
      check(req: { service: string }, cb: (e: grpc.ServiceError | null, r: { status: string }) => void): void;
    };
    const check = (service: string) =>
      new Promise<string>((resolve, reject) =>
        health.check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))),
      );
    expect(await check("emailworker.v1.EmailWorkerService")).toBe("SERVING");
    server.setServing(false);
    expect(await check("")).toBe("NOT_SERVING");
    server.setServing(true);
    health.close();
  });

  /** `buf curl` over plaintext HTTP/2 against the test server, with the given arguments. */
  const bufCurl = async (...args: string[]) => {
    const { stdout } = await run("npx", [
      ...["buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge"],
      ...args.map((a) => a.replace("<server>", `http://${address}`)),
    ]);
    return stdout;
  };

  it("lists its services and methods through reflection, v1 and v1alpha", async () => {
    const services = await bufCurl("--list-services", "<server>");
    expect(services.split("\n")).toEqual(
      expect.arrayContaining([
        "emailworker.v1.EmailWorkerService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
    for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
      const methods = (await bufCurl("--reflect-protocol", protocol, "--list-methods", "<server>")).split(
        "\n",
      );
      expect(methods, protocol).toEqual(
        expect.arrayContaining([
          "emailworker.v1.EmailWorkerService/SendEmail",
          "emailworker.v1.EmailWorkerService/VerifyProviders",
          "grpc.health.v1.Health/Check",
        ]),
      );
    }
  });

  it("is callable with buf curl from reflection alone, no .proto files: health without a key, stats with one", async () => {
    expect(JSON.parse(await bufCurl("-d", "{}", "<server>/grpc.health.v1.Health/Check"))).toEqual({
      status: "SERVING",
    });
    const stats = JSON.parse(
      await bufCurl(
        "-H",
        `x-api-key: ${SEND_KEY}`,
        "-d",
        "{}",
        "<server>/emailworker.v1.EmailWorkerService/GetQueueStats",
      ),
    );
    expect(stats.stats.driver).toBe("postgres");
  });

  it("takes a SendEmail through reflection alone, resolving imported google.protobuf types; `sender` becomes the job's from", async () => {
    const body = JSON.stringify({
      job: {
        type: "welcome_email",
        recipient_email: "ada@example.org",
        subject: "Hi {{name}}",
        html: "<p>Hello {{name}}</p>",
        sender: { email: "bookings@example.com", name: "Bookings" },
        template_data: { name: "Ada", visits: [1, 2] }, // google.protobuf.Struct
        scheduled_at: "2020-01-02T03:04:05Z", // google.protobuf.Timestamp; past, so due at once
      },
    });
    const stdout = await bufCurl(
      ...["-H", `x-api-key: ${SEND_KEY}`, "-d", body],
      "<server>/emailworker.v1.EmailWorkerService/SendEmail",
    );
    const { jobId } = JSON.parse(stdout) as { jobId: string };
    const queued = await queuedJob(jobId);
    expect(queued.from).toEqual({ email: "bookings@example.com", name: "Bookings" });
    expect(queued.template_data).toEqual({ name: "Ada", visits: [1, 2] });
    expect(queued.scheduled_at?.toISOString()).toBe("2020-01-02T03:04:05.000Z");
  });

  it("describes SendEmail through its own reflection client, v1 and v1alpha, imports included", async () => {
    for (const Client of [ReflectionV1Client, ReflectionV1alphaClient]) {
      const client = new Client(address, grpc.credentials.createInsecure());
      const stream = client.serverReflectionInfo();
      const answered = new Promise<ServerReflectionResponse>((resolve, reject) => {
        stream.once("data", resolve);
        stream.once("error", reject);
      });
      stream.write({ host: "", file_containing_symbol: "emailworker.v1.EmailWorkerService.SendEmail" });
      const response = await answered;
      stream.end();
      client.close();
      const files = (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
        fromBinary(FileDescriptorProtoSchema, bytes),
      );
      const [main, ...imports] = files;
      if (!main) throw new Error(`no file in ${JSON.stringify(response.error_response)}`);
      const registry = createFileRegistry(main, (name) => imports.find((f) => f.name === name));
      const method = registry
        .getService("emailworker.v1.EmailWorkerService")
        ?.methods.find((m) => m.name === "SendEmail");
      const job = method?.input.fields.find((f) => f.name === "job")?.message;
      expect(job?.typeName).toBe("emailworker.v1.EmailJob");
      expect(job?.fields.find((f) => f.name === "scheduled_at")?.message?.typeName).toBe(
        "google.protobuf.Timestamp",
      );
      expect(job?.fields.find((f) => f.name === "template_data")?.message?.typeName).toBe(
        "google.protobuf.Struct",
      );
    }
  });

  it(`accepts a 9 MiB attachment over gRPC (above grpc-js's 4 MiB default) and delivers it intact over SMTP`, async () => {
    const content = randomBytes(9 * 1024 * 1024);
    const { job_id } = await send.call(
      (c) => c.sendEmail,
      job({
        sender: { email: "bookings@example.com", name: "" },
        attachments: [{ filename: "big.bin", content, content_type: "application/octet-stream" }],
      }),
    );
    const queued = await queuedJob(job_id);
    const sink = await startSmtpSink();
    const smtp = loopbackSmtpProvider(sink.port, { poolSize: 1, timeoutMs: 30_000 });
    try {
      await smtp.send({
        job_id,
        job_type: queued.type,
        from: queued.from,
        to: { email: queued.recipient_email },
        subject: queued.subject ?? "",
        html: queued.html,
        text: "Code 123",
        headers: {},
        attachments: queued.attachments,
      });
      const parsed = await simpleParser(sink.messages[0]?.raw ?? "");
      expect(parsed.from?.value[0]?.address).toBe("bookings@example.com");
      expect(parsed.attachments[0]?.content.equals(content)).toBe(true);
    } finally {
      await smtp.close();
      await sink.close();
    }
  }, 60_000);

  it("refuses an 11 MiB attachment with INVALID_ARGUMENT naming the 10 MiB limit, not a transport error", async () => {
    const error = await send
      .call(
        (c) => c.sendEmail,
        job({ attachments: [{ filename: "big.bin", content: Buffer.alloc(11 * 1024 * 1024, 1) }] }),
      )
      .catch((e: grpc.ServiceError) => e);
    expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(fieldViolationsOf(error as grpc.ServiceError)).toEqual([
      { field: "attachments", description: `total more than ${JOB_LIMITS.attachment_bytes_total} bytes` },
    ]);
  }, 60_000);

  it("refuses a request larger than any valid job with RESOURCE_EXHAUSTED before reading it", async () => {
    const error = await send
      .call(
        (c) => c.sendEmail,
        job({
          attachments: [{ filename: "huge.bin", content: Buffer.alloc(GRPC_MAX_RECEIVE_MESSAGE_BYTES + 1) }],
        }),
      )
      .catch((e: grpc.ServiceError) => e);
    expect(error).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  }, 60_000);

  it("answers the README's buf curl call, given the schema", async () => {
    const body = JSON.stringify({
      job: { type: "welcome_email", recipient_email: "ada@example.org", subject: "Hi", text: "Hello" },
    });
    const { stdout } = await run("npx", [
      ...["buf", "curl", "--schema", "proto", "--protocol", "grpc", "--http2-prior-knowledge"],
      ...["-H", `x-api-key: ${SEND_KEY}`, "-d", body],
      `http://${address}/emailworker.v1.EmailWorkerService/SendEmail`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it("answers OK or INVALID_ARGUMENT to any SendEmail, never an internal error", async () => {
    const text = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 60 }),
      fc.constantFrom("", "\r\n", "a\r\nBcc: x@y.z", "<script>", "\u0000"),
      fc.string({ minLength: 600, maxLength: 1_000 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          type: fc.oneof(fc.constant("welcome_email"), text),
          recipient_email: fc.oneof(fc.emailAddress(), text),
          recipient_name: text,
          subject: text,
          html: text,
          template_id: text,
          idempotency_key: text,
          provider: text,
          priority: fc.integer({ min: -5, max: 9 }),
          headers: fc.dictionary(text, text, { maxKeys: 3 }),
          tracked: fc.boolean(),
        }),
        async (fields) => {
          const job = { ...fields, priority: fields.priority as Priority };
          const code = await codeOf(send.call((c) => c.sendEmail, SendEmailRequest.fromPartial({ job })));
          expect(["OK", "INVALID_ARGUMENT"]).toContain(code);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("answers UNAVAILABLE while draining, and within the deadline when the database is gone", async () => {
    draining = true;
    expect(await codeOf(send.call((c) => c.sendEmail, job()))).toBe("UNAVAILABLE");
    draining = false;
    await database.drop();
    const started = Date.now();
    expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain(
      await codeOf(send.call((c) => c.sendEmail, job({ tracked: true }))),
    );
    expect(Date.now() - started).toBeLessThan(6_000);
  });
});
