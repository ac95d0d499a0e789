import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { fakeRequest, fakeResponse } from "../../../test/http-fakes.ts";
import { UnavailableError } from "../../errors/error-kind.ts";
import { JobValidationError } from "../../job/job-validation-error.ts";
import { BatchInterruptedError, type EmailService } from "../../service/email-service.ts";
import { ApiKeyAuth } from "../auth/api-key-auth.ts";
import type { HealthMonitor } from "./health-monitor.ts";
import { MAX_BODY_BYTES } from "./http-io.ts";
import { IntakeRoutes } from "./intake-routes.ts";

const JOB_ID = "0b5a3c1e-8f2d-4e6a-9c7b-1d2e3f4a5b6c";
const sha256 = (key: string) => createHash("sha256").update(key).digest("hex");
const invalid = new JobValidationError([{ field: "recipient_email", description: "is required" }]);

function setUp(options: { draining?: boolean } = {}) {
  const service = {
    send: vi.fn(async () => ({ job_id: JOB_ID, tracked: false, duplicate: false })),
    sendBatch: vi.fn(async () => [
      { ok: true, result: { job_id: JOB_ID } },
      { ok: false, error: invalid },
    ]),
    getJob: vi.fn(async () => undefined),
  };
  const routes = new IntakeRoutes({
    service: service as unknown as EmailService,
    auth: new ApiKeyAuth([
      { name: "sender", sha256: sha256("send-key"), scopes: ["send"] },
      { name: "reader", sha256: sha256("read-key"), scopes: ["read"] },
    ]),
    health: { draining: options.draining ?? false } as HealthMonitor,
  });
  const { res, reply } = fakeResponse();
  const request = (
    method: string,
    path: string,
    key = "send-key",
    body?: string,
    headers: Record<string, string> = {},
  ) =>
    routes.handle(
      fakeRequest(method, {
        headers: { "x-api-key": key, ...headers },
        ...(body === undefined ? {} : { body }),
      }),
      res,
      new URL(path, "http://localhost"),
    );
  return { service, reply, request };
}

describe("IntakeRoutes", () => {
  it("leaves paths outside /v1/emails to the other routes", async () => {
    expect(await setUp().request("GET", "/v1/emailsx")).toBe(false);
  });

  it("checks the caller before anything else on its paths, unknown ones included", async () => {
    const { request } = setUp();
    await expect(request("PUT", "/v1/emails/nothing", "wrong")).rejects.toMatchObject({
      kind: "unauthenticated",
    });
    await expect(request("GET", `/v1/emails/${JOB_ID}`, "read-key")).rejects.toMatchObject({
      kind: "permission_denied",
    });
    expect(await request("PUT", "/v1/emails/nothing")).toBe(false);
  });

  it("turns away new jobs while draining, but still shows tracked ones", async () => {
    const { request } = setUp({ draining: true });
    await expect(request("POST", "/v1/emails", "send-key", "{}")).rejects.toMatchObject({
      kind: "unavailable",
      message: "shutting down; send to another instance",
    });
    await expect(request("GET", `/v1/emails/${JOB_ID}`)).rejects.toMatchObject({
      kind: "not_found",
      message: `no tracked job ${JOB_ID}`,
    });
  });

  it("answers 202 to one job and 207 to a batch, an invalid job as its own 400 body", async () => {
    const { request, reply, service } = setUp();
    expect(await request("POST", "/v1/emails", "send-key", '{"recipient_email":"a@example.org"}')).toBe(true);
    expect(service.send).toHaveBeenCalledWith({ recipient_email: "a@example.org" });
    expect(reply.status).toBe(202);
    expect(await request("POST", "/v1/emails", "send-key", '{"jobs":[{},{}]}')).toBe(true);
    expect(reply.status).toBe(207);
    expect(JSON.parse(reply.body as string)).toEqual({
      results: [
        { job_id: JOB_ID },
        {
          error: "invalid email job",
          kind: "invalid_argument",
          violations: [{ field: "recipient_email", description: "is required" }],
        },
      ],
    });
  });

  it("answers a batch stopped by a server fault with its status and the items queued before it", async () => {
    const { request, reply, service } = setUp();
    service.sendBatch.mockRejectedValueOnce(
      new BatchInterruptedError(new UnavailableError("queue unreachable"), [
        { ok: true, result: { job_id: JOB_ID, tracked: false, duplicate: false, scheduled_at: undefined } },
        { ok: false, error: invalid },
      ]),
    );
    expect(await request("POST", "/v1/emails", "send-key", '{"jobs":[{},{},{}]}')).toBe(true);
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body as string)).toEqual({
      error: "a dependency is unavailable; try again",
      kind: "unavailable",
      results: [
        { job_id: JOB_ID, tracked: false, duplicate: false },
        expect.objectContaining({ kind: "invalid_argument" }),
      ],
    });
  });

  it("refuses a body that declares more than the intake limit before reading it", async () => {
    const routes = setUp();
    await expect(
      routes.request("POST", "/v1/emails", "send-key", undefined, {
        "content-length": String(MAX_BODY_BYTES + 1),
      }),
    ).rejects.toMatchObject({ kind: "payload_too_large" });
    expect(routes.service.send).not.toHaveBeenCalled();
  });
});
