import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { embeddedEmailService, memoryQueueOptions } from "../../test/embedded-service.ts";
import { type EmbeddedStore, openEmbeddedStore } from "../../test/embedded-store.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import { encodeTrackedReference } from "../job/queue-message.ts";
import { MemoryQueue } from "../queue/memory/memory-queue.ts";
import { InvalidCursorError } from "../store/keyset-cursor.ts";
import { encodePageToken } from "../store/page-token.ts";
import type { EmailService } from "./email-service.ts";

describe("EmailService dead letters (in-memory queue, embedded PostgreSQL)", () => {
  let store: EmbeddedStore;
  let queue: MemoryQueue;
  let service: EmailService;

  beforeAll(async () => {
    store = await openEmbeddedStore();
  });
  afterAll(() => store?.close());

  beforeEach(() => {
    queue = new MemoryQueue(memoryQueueOptions());
    service = embeddedEmailService(store, queue);
  });

  /** Dead-letters each body with its reason, oldest first; returns the letters' ids in that order. */
  async function bury(...letters: { body: string; reason: string }[]): Promise<string[]> {
    const ids: string[] = [];
    for (const { body, reason } of letters) {
      await queue.publish([{ body, lane: "normal" }]);
      const [delivery] = await queue.fetch(1);
      if (!delivery) throw new Error("nothing delivered");
      await queue.deadLetter(delivery, reason);
      ids.push(delivery.id);
    }
    return ids;
  }

  const job = (type: string) => JSON.stringify({ type, recipient_email: "a@example.org", subject: "s" });
  const waitingBodies = () => queue.state.lanes.normal.map((e) => e.body);

  it("refuses a replay that names no letters, naming the field all, and replays nothing", async () => {
    await bury({ body: job("welcome"), reason: "550" });
    const refusal = service.replayDeadLetters({ ids: [], limit: 100, dryRun: false });
    await expect(refusal).rejects.toBeInstanceOf(JobValidationError);
    await expect(refusal).rejects.toMatchObject({ violations: [{ field: "all" }] });
    expect((await queue.stats()).dead).toBe(1);
  });

  it("replays everything with all, up to the limit, newest first", async () => {
    const ids = await bury(
      { body: job("a"), reason: "x" },
      { body: job("b"), reason: "x" },
      { body: job("c"), reason: "x" },
    );
    const done = await service.replayDeadLetters({ ids: [], all: true, limit: 2, dryRun: false });
    expect(done.replayed).toEqual([ids[2], ids[1]]);
    expect((await queue.stats()).dead).toBe(1);
  });

  it("replays by the job's type, from the body or a tracked job's row", async () => {
    const tracked = await store.jobs.create({
      job_type: "invoice",
      recipient_email: "b@example.org",
      template_id: "t",
    });
    const ids = await bury(
      { body: job("invoice"), reason: "550" },
      { body: job("welcome"), reason: "550" },
      { body: encodeTrackedReference(tracked.id), reason: "550" },
      { body: "not json", reason: "malformed" },
    );
    const dry = await service.replayDeadLetters({ ids: [], type: "invoice", limit: 100, dryRun: true });
    expect(dry).toEqual({ replayed: [ids[2], ids[0]], missing: [] });
    expect((await queue.stats()).dead).toBe(4);
    const done = await service.replayDeadLetters({ ids: [], type: "invoice", limit: 100, dryRun: false });
    expect(done.replayed).toEqual([ids[2], ids[0]]);
    expect(waitingBodies()).toEqual([encodeTrackedReference(tracked.id), job("invoice")]);
    expect((await queue.stats()).dead).toBe(2);
  });

  it("replays the letters that failed within a time range, after inclusive and before exclusive", async () => {
    const ids = await bury(
      { body: job("a"), reason: "x" },
      { body: job("b"), reason: "x" },
      { body: job("c"), reason: "x" },
    );
    const letters = [...queue.state.dead.values()];
    const at = (i: number) => new Date(Date.UTC(2024, 0, 1, i));
    letters.forEach((l, i) => {
      l.failed_at = at(i);
    });
    const dry = await service.replayDeadLetters({
      ids: [],
      failedAfter: at(1),
      failedBefore: at(2),
      limit: 100,
      dryRun: true,
    });
    expect(dry.replayed).toEqual([ids[1]]);
    const since = await service.replayDeadLetters({ ids: [], failedAfter: at(1), limit: 100, dryRun: false });
    expect(since.replayed).toEqual([ids[2], ids[1]]);
    expect(waitingBodies()).toEqual([job("c"), job("b")]);
  });

  it("says which named letters a dry run would replay and which are missing, replaying none", async () => {
    const [id] = await bury({ body: job("a"), reason: "x" });
    const dry = await service.replayDeadLetters({ ids: [id ?? "", "nope"], limit: 100, dryRun: true });
    expect(dry).toEqual({ replayed: [id], missing: ["nope"] });
    expect((await queue.stats()).dead).toBe(1);
    await expect(
      service.replayDeadLetters({ ids: [id ?? ""], all: true, limit: 100, dryRun: true }),
    ).rejects.toMatchObject({ violations: [{ field: "ids" }] });
  });

  it("pages through the letters matching a reason, each once, with the total of all letters", async () => {
    const bodies = Array.from({ length: 9 }, (_, n) => ({
      body: job(`t${n}`),
      reason: n % 3 ? "550" : "spam",
    }));
    await bury(...bodies);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await service.listDeadLetters({ limit: 2, reasonContains: "550", pageToken: token });
      expect(page.total_count).toBe(9 + pages++);
      seen.push(...page.letters.map((l) => l.body));
      // Arrives while paging: ahead of the pages, so not seen and not shifting them.
      await bury({ body: job("late"), reason: "550" });
      token = page.next_page_token;
    } while (token);
    expect(seen).toEqual(["t8", "t7", "t5", "t4", "t2", "t1"].map(job));
  });

  it("refuses a page token it did not give, naming page_token", async () => {
    await bury({ body: job("a"), reason: "x" });
    for (const pageToken of ["%%%", encodePageToken("not-a-position")]) {
      const refusal = service.listDeadLetters({ limit: 10, pageToken });
      await expect(refusal).rejects.toBeInstanceOf(InvalidCursorError);
      await expect(refusal).rejects.toMatchObject({ field: "page_token" });
    }
  });

  it("keeps a page's place after the letter that ended it was replayed", async () => {
    const ids = await bury(...["a", "b", "c", "d"].map((t) => ({ body: job(t), reason: "x" })));
    const first = await service.listDeadLetters({ limit: 2 });
    expect(first.letters.map((l) => l.id)).toEqual([ids[3], ids[2]]);
    await service.replayDeadLetters({ ids: [ids[2] ?? ""], limit: 100, dryRun: false });
    const second = await service.listDeadLetters({ limit: 2, pageToken: first.next_page_token });
    expect(second.letters.map((l) => l.id)).toEqual([ids[1], ids[0]]);
    expect(second.next_page_token).toBeUndefined();
  });
});
