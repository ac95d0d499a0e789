import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf, type GrpcTestService, startGrpcTestService } from "../../../test/grpc-service.ts";
import { ListEmailJobsRequest, SendBatchRequest } from "../../gen/emailworker/v1/email_worker.ts";

/** SendBatch's batch_id, GetBatch and CancelBatch over a real port, on a real PostgreSQL. */
describe("gRPC batches", () => {
  let service: GrpcTestService;
  beforeAll(async () => {
    service = await startGrpcTestService();
  });
  afterAll(async () => {
    await service?.close();
  });

  it("tracks a batch's jobs, lists and counts them by batch, and cancels the ones still waiting", async () => {
    const later = new Date(Date.now() + 3_600_000);
    const jobs = Array.from({ length: 3 }, (_, i) => ({
      type: "invoice",
      recipient_email: `buyer${i}@example.org`,
      subject: "Invoice",
      text: "Attached",
      scheduled_at: later,
    }));
    const sent = await service.send.call(
      (c) => c.sendBatch,
      SendBatchRequest.fromPartial({ jobs, batch_id: "grpc-invoices" }),
    );
    expect(sent).toMatchObject({ accepted: 3, rejected: 0, batch_id: "grpc-invoices" });
    expect(sent.items.every((item) => item.accepted?.tracked)).toBe(true);

    const listed = await service.send.call(
      (c) => c.listEmailJobs,
      ListEmailJobsRequest.fromPartial({ batch_id: "grpc-invoices" }),
    );
    expect(listed.jobs.map((job) => job.batch_id)).toEqual([
      "grpc-invoices",
      "grpc-invoices",
      "grpc-invoices",
    ]);

    const counted = await service.send.call((c) => c.getBatch, { batch_id: "grpc-invoices" });
    expect(counted.batch).toMatchObject({ batch_id: "grpc-invoices", total: 3, by_status: { pending: 3 } });
    const cancelled = await service.send.call((c) => c.cancelBatch, { batch_id: "grpc-invoices" });
    expect(cancelled).toMatchObject({ cancelled: 3, batch: { total: 3, by_status: { cancelled: 3 } } });
    expect(await codeOf(service.send.call((c) => c.getBatch, { batch_id: "never-used" }))).toBe("NOT_FOUND");
    expect(
      await codeOf(
        service.send.call((c) => c.sendBatch, SendBatchRequest.fromPartial({ jobs, batch_id: "bad id" })),
      ),
    ).toBe("INVALID_ARGUMENT");
  });
});
