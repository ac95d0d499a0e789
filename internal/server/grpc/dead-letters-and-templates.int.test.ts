import { randomUUID } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcTestService, startGrpcTestService } from "../../../test/grpc-service.ts";
import {
  ListDeadLettersRequest,
  ListEmailJobsRequest,
  ListTemplatesRequest,
  ReplayDeadLettersRequest,
  UpsertTemplateRequest,
} from "../../gen/emailworker/v1/email_worker.ts";
import { fieldViolationsOf } from "./grpc-errors.ts";

/** ListDeadLetters, ReplayDeadLetters and ListTemplates over a real port, on a real PostgreSQL. */
describe("gRPC dead letters and templates", () => {
  let service: GrpcTestService;
  let queue: GrpcTestService["queue"];
  let admin: GrpcTestService["admin"];

  beforeAll(async () => {
    service = await startGrpcTestService();
    ({ queue, admin } = service);
  });

  afterAll(async () => {
    await service?.close();
  });

  /** The code and the fields named of a refused call. */
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => ({ code: "OK", fields: [] as string[] }),
      (e: grpc.ServiceError) => ({ code: e.code, fields: fieldViolationsOf(e).map((v) => v.field) }),
    );
  const INVALID_ARGUMENT = 3;

  /** Dead-letters one message per body, oldest first. */
  async function bury(bodies: readonly string[], reason: string): Promise<void> {
    for (const body of bodies) {
      await queue.publish([{ body, lane: "low" }]);
      let delivery = (await queue.fetch(100)).find((d) => d.body === body);
      while (!delivery) delivery = (await queue.fetch(100)).find((d) => d.body === body);
      await queue.deadLetter(delivery, reason);
    }
  }
  const job = (type: string, n: number) =>
    JSON.stringify({ type, recipient_email: `u${n}@example.org`, subject: "s", text: "t", n });
  const listAll = async (reason_contains: string) => {
    const bodies: string[] = [];
    let page_token = "";
    let total = -1;
    do {
      const page = await admin.call(
        (c) => c.listDeadLetters,
        ListDeadLettersRequest.fromPartial({ page_size: 2, reason_contains, page_token }),
      );
      expect(page.dead_letters.length).toBeLessThanOrEqual(2);
      bodies.push(...page.dead_letters.map((l) => l.body));
      total = Number(page.total_count);
      page_token = page.next_page_token;
    } while (page_token);
    return { bodies, total };
  };

  it("pages through the dead letters matching a reason, each once, with the total of all", async () => {
    const marker = randomUUID();
    const bodies = Array.from({ length: 5 }, (_, n) => job("paged", n));
    await bury(bodies, `smtp_550 ${marker}`);
    await bury([job("other", 9)], "smtp_554 spam");
    const { bodies: seen, total } = await listAll(marker);
    expect(seen).toEqual(bodies.toReversed());
    expect(total).toBe((await queue.stats()).dead);
  });

  it("refuses a replay that names nothing, naming the field all", async () => {
    await bury([job("kept", 1)], "smtp_550 kept");
    const before = (await queue.stats()).dead;
    expect(
      await refusal(admin.call((c) => c.replayDeadLetters, ReplayDeadLettersRequest.fromPartial({}))),
    ).toEqual({ code: INVALID_ARGUMENT, fields: ["all"] });
    expect(
      await refusal(
        admin.call(
          (c) => c.replayDeadLetters,
          ReplayDeadLettersRequest.fromPartial({ dry_run: true, limit: 5 }),
        ),
      ),
    ).toEqual({ code: INVALID_ARGUMENT, fields: ["all"] });
    expect((await queue.stats()).dead).toBe(before);
  });

  it("replays by type and time range, saying first with a dry run", async () => {
    const type = `type_${randomUUID().slice(0, 8)}`;
    const since = new Date(Date.now() - 1_000);
    await bury([job(type, 1), job("unrelated", 2), job(type, 3)], "smtp_550 typed");
    const select = { type, failed_after: since, failed_before: new Date(Date.now() + 60_000) };
    const dry = await admin.call(
      (c) => c.replayDeadLetters,
      ReplayDeadLettersRequest.fromPartial({ ...select, dry_run: true }),
    );
    expect(dry.dry_run).toBe(true);
    expect(dry.replayed_ids).toHaveLength(2);
    const before = (await queue.stats()).dead;
    const none = await admin.call(
      (c) => c.replayDeadLetters,
      ReplayDeadLettersRequest.fromPartial({ type, failed_before: since }),
    );
    expect(none.replayed_ids).toEqual([]);
    const done = await admin.call((c) => c.replayDeadLetters, ReplayDeadLettersRequest.fromPartial(select));
    expect(done.replayed_ids).toEqual(dry.replayed_ids);
    expect((await queue.stats()).dead).toBe(before - 2);
    const left = await listAll("typed");
    expect(left.bodies).toEqual([job("unrelated", 2)]);
  });

  it("refuses a page token it did not give, naming page_token, on every list", async () => {
    const refused = { code: INVALID_ARGUMENT, fields: ["page_token"] };
    // Not base64url; and base64url of something that is no dead-letter position.
    for (const page_token of ["%%%", Buffer.from("not-a-position").toString("base64url")])
      expect(
        await refusal(
          admin.call((c) => c.listDeadLetters, ListDeadLettersRequest.fromPartial({ page_token })),
        ),
      ).toEqual(refused);
    // Any text may be a template id: only a token that is no base64url is refused.
    expect(
      await refusal(
        admin.call((c) => c.listTemplates, ListTemplatesRequest.fromPartial({ page_token: "%%%" })),
      ),
    ).toEqual(refused);
    expect(
      await refusal(
        admin.call((c) => c.listEmailJobs, ListEmailJobsRequest.fromPartial({ page_token: "%%%" })),
      ),
    ).toEqual(refused);
  });

  it("pages through the templates by id, each once, with the total matching active", async () => {
    const prefix = `tpl_${randomUUID().slice(0, 8)}`;
    for (let n = 0; n < 5; n++)
      await admin.call(
        (c) => c.upsertTemplate,
        UpsertTemplateRequest.fromPartial({
          template: {
            id: `${prefix}_${n}`,
            name: `T${n}`,
            subject: "Hi",
            text_template: "Hello",
            is_active: n !== 2,
          },
        }),
      );
    const walk = async (active: boolean | undefined) => {
      const ids: string[] = [];
      let page_token = "";
      let total = -1;
      do {
        const page = await admin.call(
          (c) => c.listTemplates,
          ListTemplatesRequest.fromPartial({
            page_size: 2,
            page_token,
            ...(active !== undefined && { active }),
          }),
        );
        expect(page.templates.length).toBeLessThanOrEqual(2);
        ids.push(...page.templates.map((t) => t.id));
        total = Number(page.total_count);
        page_token = page.next_page_token;
      } while (page_token);
      return { ids, total };
    };
    const all = await walk(undefined);
    expect(all.ids).toEqual([...new Set(all.ids)].sort());
    expect(all.ids.length).toBe(all.total);
    expect(all.ids.filter((id) => id.startsWith(prefix))).toHaveLength(5);
    const inactive = await walk(false);
    expect(inactive.ids).toContain(`${prefix}_2`);
    expect(inactive.ids.length).toBe(inactive.total);
    const active = await walk(true);
    expect(active.total + inactive.total).toBe(all.total);
  });
});
