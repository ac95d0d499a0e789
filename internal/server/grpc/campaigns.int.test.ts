import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf, type GrpcTestService, startGrpcTestService } from "../../../test/grpc-service.ts";
import {
  AddCampaignRecipientsRequest,
  CampaignStatus,
  CreateCampaignRequest,
  GetCampaignRequest,
  ListCampaignsRequest,
  Priority,
  StartCampaignRequest,
  type StreamCampaignRecipientsRequest,
  type StreamCampaignRecipientsResponse,
} from "../../gen/emailworker/v1/email_worker.ts";
import { fieldViolationsOf } from "./grpc-errors.ts";

/** The campaign methods over a real port, on a real PostgreSQL, dispatching onto its queue. */
describe("gRPC campaigns", () => {
  let service: GrpcTestService;

  beforeAll(async () => {
    service = await startGrpcTestService();
  });
  afterAll(async () => {
    await service?.close();
  });

  const person = (n: number, label = "p") => ({ email: `${label}${n}@example.org`, name: `Person ${n}` });
  const spec = (overrides: Record<string, unknown> = {}) => ({
    name: `Spring ${randomUUID().slice(0, 6)}`,
    type: "newsletter",
    subject: "Hello {{.name}}",
    text: "Hello {{.name}} from {{.shop}}",
    template_data: { shop: "Corner shop" },
    ...overrides,
  });
  const create = (overrides: Record<string, unknown> = {}, recipients: object[] = []) =>
    service.marketing.call(
      (c) => c.createCampaign,
      CreateCampaignRequest.fromPartial({ campaign: spec(overrides), recipients }),
    );
  const get = async (id: string) =>
    (await service.marketing.call((c) => c.getCampaign, GetCampaignRequest.fromPartial({ id }))).campaign;
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => ({ code: "OK", fields: [] as string[] }),
      (e: grpc.ServiceError) => ({
        code: grpc.status[e.code],
        fields: fieldViolationsOf(e).map((v) => v.field),
      }),
    );

  it("creates a draft with its first recipients, reporting an invalid one by position, in the low lane by default", async () => {
    const created = await create({}, [person(1), { email: "not an address" }, person(1), person(2)]);
    expect(created.campaign).toMatchObject({
      status: CampaignStatus.CAMPAIGN_STATUS_DRAFT,
      priority: Priority.PRIORITY_LOW,
      tracked: true,
      counts: { total: 2, pending: 2, duplicates: 1, invalid: 1 },
    });
    expect(created.recipients).toMatchObject({ added: 2, duplicates: 1, invalid: 1 });
    expect(created.recipients?.errors).toEqual([
      { line: 2, reason: expect.stringContaining("recipients[1].email") },
    ]);
  });

  it("takes the campaign and admin scopes and refuses a send-only key", async () => {
    const request = CreateCampaignRequest.fromPartial({ campaign: spec() });
    expect(await codeOf(service.send.call((c) => c.createCampaign, request))).toBe("PERMISSION_DENIED");
    expect(
      await codeOf(service.send.call((c) => c.listCampaigns, ListCampaignsRequest.fromPartial({}))),
    ).toBe("PERMISSION_DENIED");
    expect(await codeOf(service.admin.call((c) => c.createCampaign, request))).toBe("OK");
    expect(
      await codeOf(
        service.send.stream(
          (c) => c.streamCampaignRecipients,
          [{ campaign_id: randomUUID(), recipients: [person(1)], invalid_rows: 0 }],
        ),
      ),
    ).toBe("PERMISSION_DENIED");
  });

  it("refuses content it could not send, naming the field", async () => {
    expect(
      await refusal(create({ text: undefined, subject: undefined, template_id: "no-such-template" })),
    ).toEqual({
      code: "INVALID_ARGUMENT",
      fields: ["template_id"],
    });
    expect(await refusal(create({ template_id: "welcome" }))).toEqual({
      code: "INVALID_ARGUMENT",
      fields: ["template_id"],
    });
    expect(await refusal(create({ name: "" }))).toEqual({ code: "INVALID_ARGUMENT", fields: ["name"] });
    expect(await refusal(create({ rate_limit: -1 }))).toEqual({
      code: "INVALID_ARGUMENT",
      fields: ["rate_limit"],
    });
    expect(await refusal(create({ provider: "ses" }))).toEqual({
      code: "INVALID_ARGUMENT",
      fields: ["provider"],
    });
    expect(await refusal(create({ text: "{{ .broken" }))).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(await codeOf(get(randomUUID()))).toBe("NOT_FOUND");
    expect(await refusal(get("not-a-uuid"))).toEqual({ code: "INVALID_ARGUMENT", fields: ["id"] });
  });

  it("adds recipients in a batch and as a stream of pages, counting positions across pages", async () => {
    const { campaign } = await create();
    const id = campaign?.id as string;
    const batch = await service.marketing.call(
      (c) => c.addCampaignRecipients,
      AddCampaignRecipientsRequest.fromPartial({
        campaign_id: id,
        recipients: [person(1, "b"), person(2, "b")],
      }),
    );
    expect(batch.result).toMatchObject({ added: 2, invalid: 0 });
    async function* pages(): AsyncGenerator<StreamCampaignRecipientsRequest> {
      for (let page = 0; page < 3; page++) {
        const recipients = Array.from({ length: 1_000 }, (_, i) => person(page * 1_000 + i, "s"));
        if (page === 1) recipients[10] = { email: "broken", name: "" };
        // The client found two rows of the last page invalid itself: counted, not sent.
        yield { campaign_id: page === 0 ? id : "", recipients, invalid_rows: page === 2 ? 2 : 0 };
      }
    }
    const streamed = await service.marketing.stream<
      StreamCampaignRecipientsRequest,
      StreamCampaignRecipientsResponse
    >((c) => c.streamCampaignRecipients, pages());
    expect(streamed.result).toMatchObject({ added: 2_999, duplicates: 0, invalid: 3 });
    expect(streamed.result?.errors.map((e) => e.line)).toEqual([1_011]);
    expect(streamed.campaign?.counts).toMatchObject({ total: 3_001, pending: 3_001, invalid: 3 });
    expect(
      await refusal(
        service.marketing.stream(
          (c) => c.streamCampaignRecipients,
          [
            { campaign_id: id, recipients: [], invalid_rows: 0 },
            { campaign_id: randomUUID(), recipients: [], invalid_rows: 0 },
          ],
        ),
      ),
    ).toEqual({ code: "INVALID_ARGUMENT", fields: ["campaign_id"] });
  });

  it("starts, dispatches into tracked jobs, pauses, resumes and cancels, and lists by status", async () => {
    const { campaign } = await create(
      {},
      Array.from({ length: 30 }, (_, i) => person(i, "life")),
    );
    const id = campaign?.id as string;
    const started = await service.marketing.call(
      (c) => c.startCampaign,
      StartCampaignRequest.fromPartial({ id }),
    );
    expect(started.campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_RUNNING);
    expect(started.campaign?.started_at).toBeInstanceOf(Date);
    await service.dispatcher.dispatch();
    expect((await get(id))?.counts).toMatchObject({ pending: 0, queued: 30 });
    const jobs = await service.jobs.list({ job_type: "newsletter", limit: 500 });
    const mine = jobs.jobs.filter((j) => j.campaign_id === id);
    expect(mine).toHaveLength(30);
    expect(mine[0]).toMatchObject({ template_id: `campaign-${id}`, template_data: { shop: "Corner shop" } });

    const paused = await service.marketing.call((c) => c.pauseCampaign, { id });
    expect(paused.campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_PAUSED);
    // Pausing twice answers as the first time did.
    expect((await service.marketing.call((c) => c.pauseCampaign, { id })).campaign?.status).toBe(
      CampaignStatus.CAMPAIGN_STATUS_PAUSED,
    );
    const listed = await service.marketing.call(
      (c) => c.listCampaigns,
      ListCampaignsRequest.fromPartial({ status: [CampaignStatus.CAMPAIGN_STATUS_PAUSED] }),
    );
    expect(listed.campaigns.map((c) => c.id)).toContain(id);
    expect(listed.campaigns.every((c) => c.status === CampaignStatus.CAMPAIGN_STATUS_PAUSED)).toBe(true);

    expect((await service.marketing.call((c) => c.resumeCampaign, { id })).campaign?.status).toBe(
      CampaignStatus.CAMPAIGN_STATUS_RUNNING,
    );
    const cancelled = await service.marketing.call((c) => c.cancelCampaign, { id });
    expect(cancelled.campaign).toMatchObject({
      status: CampaignStatus.CAMPAIGN_STATUS_CANCELLED,
      counts: { cancelled: 30, queued: 0, pending: 0 },
    });
    expect(cancelled.campaign?.finished_at).toBeInstanceOf(Date);
    expect(await refusal(service.marketing.call((c) => c.resumeCampaign, { id }))).toMatchObject({
      code: "FAILED_PRECONDITION",
    });
    expect(
      await refusal(
        service.marketing.call(
          (c) => c.addCampaignRecipients,
          AddCampaignRecipientsRequest.fromPartial({ campaign_id: id, recipients: [person(99)] }),
        ),
      ),
    ).toMatchObject({ code: "FAILED_PRECONDITION" });
  });

  it("makes a draft recurring: each due occurrence starts a running copy, dispatched like any campaign", async () => {
    const { campaign } = await create({}, [person(1, "weekly"), person(2, "weekly")]);
    const blueprint = campaign?.id as string;
    expect(
      await refusal(
        service.marketing.call((c) => c.createCampaignSchedule, {
          campaign_id: blueprint,
          cron: "every monday",
          timezone: "",
          name: "",
        }),
      ),
    ).toEqual({ code: "INVALID_ARGUMENT", fields: ["cron"] });
    expect(
      await refusal(
        service.marketing.call((c) => c.createCampaignSchedule, {
          campaign_id: blueprint,
          cron: "0 9 * * MON",
          timezone: "Mars/Olympus",
          name: "",
        }),
      ),
    ).toEqual({ code: "INVALID_ARGUMENT", fields: ["timezone"] });
    const { schedule } = await service.marketing.call((c) => c.createCampaignSchedule, {
      campaign_id: blueprint,
      cron: "0 9 * * MON",
      timezone: "Europe/Oslo",
      name: "Monday letter",
    });
    expect(schedule).toMatchObject({ name: "Monday letter", campaign_id: blueprint, runs: 0 });
    // Every Monday at 09:00 Oslo time, which is 08:00 UTC in winter.
    expect(schedule?.next_run_at?.getUTCDay()).toBe(1);
    expect(schedule?.next_run_at?.getUTCHours()).toBe(8);
    const listed = await service.marketing.call((c) => c.listCampaignSchedules, {});
    expect(listed.schedules.map((s) => s.id)).toContain(schedule?.id);

    // Its time has come (as if the service had been down over it).
    await service.router.master
      .updateTable("email_campaign_schedules")
      .set({ next_run_at: new Date(Date.now() - 1_000) })
      .where("id", "=", schedule?.id as string)
      .execute();
    await service.dispatcher.dispatch();
    const [after] = (await service.marketing.call((c) => c.listCampaignSchedules, {})).schedules.filter(
      (s) => s.id === schedule?.id,
    );
    expect(after).toMatchObject({ runs: 1 });
    expect(after?.next_run_at?.getTime()).toBeGreaterThan(Date.now());
    const run = await get(after?.last_campaign_id as string);
    expect(run).toMatchObject({
      status: CampaignStatus.CAMPAIGN_STATUS_RUNNING,
      counts: { total: 2, queued: 2 },
    });
    expect((await get(blueprint))?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_DRAFT);

    const started = await service.marketing.call((c) => c.startCampaign, {
      id: after?.last_campaign_id as string,
    });
    expect(
      await refusal(
        service.marketing.call((c) => c.createCampaignSchedule, {
          campaign_id: started.campaign?.id as string,
          cron: "0 9 * * MON",
          timezone: "",
          name: "",
        }),
      ),
    ).toMatchObject({ code: "FAILED_PRECONDITION" });
    expect(
      (await service.marketing.call((c) => c.deleteCampaignSchedule, { id: schedule?.id as string })).deleted,
    ).toBe(true);
  });

  it("schedules a campaign whose time is ahead instead of starting it", async () => {
    const at = new Date(Date.now() + 3_600_000);
    const { campaign } = await create({ scheduled_at: at });
    const started = await service.marketing.call(
      (c) => c.startCampaign,
      StartCampaignRequest.fromPartial({ id: campaign?.id as string }),
    );
    expect(started.campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_SCHEDULED);
    expect(started.campaign?.scheduled_at?.getTime()).toBe(at.getTime());
  });
});
