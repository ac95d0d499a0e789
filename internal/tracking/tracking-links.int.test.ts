import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../test/http-server.ts";
import { silentLogger } from "../../test/store.ts";
import { markJobSent } from "../../test/store-queries.ts";
import { LinkEvents } from "./link-events.ts";
import { LinkTokens } from "./link-tokens.ts";

/** The service's own tracking links, over real HTTP, recording into a real database. */
const DAY = 24 * 60 * 60 * 1000;

describe("open pixel, click redirects and one-click unsubscribe", () => {
  /** When links are signed and checked; a test may move it. */
  let now = Date.now();
  const tokens = new LinkTokens("tracking-test-secret-0123456789", { ttlMs: 90 * DAY, now: () => now });
  let harness: TestHttpServer;
  let base: string;
  let tracking: TestHttpServer["tracking"];
  let suppressions: TestHttpServer["suppressions"];
  let jobId: string;

  beforeAll(async () => {
    harness = await startTestHttpServer(({ jobs, tracking, suppressions }) => ({
      links: { tokens, events: new LinkEvents({ jobs, tracking, suppressions, logger: silentLogger }) },
    }));
    ({ base, tracking, suppressions } = harness);
    const { jobs, router } = harness;
    const job = await jobs.create({ job_type: "newsletter", recipient_email: "ada@example.org" });
    await jobs.claim(job.id, 60_000);
    await markJobSent(router, job.id);
    // Sent a minute ago: opens now are a reader's, not a scanner's.
    await router.master
      .updateTable("email_jobs")
      .set({ sent_at: new Date(Date.now() - 60_000) })
      .where("id", "=", job.id)
      .execute();
    jobId = job.id;
  });

  afterAll(async () => harness?.close());

  it("serves the pixel and records opens, flagging image proxies as machine opens", async () => {
    const pixel = `${base}/t/o/${tokens.sign({ k: "o", j: jobId })}.gif`;
    const human = await fetch(pixel, { headers: { "user-agent": "Mozilla/5.0 Thunderbird" } });
    expect(human.status).toBe(200);
    expect(human.headers.get("content-type")).toBe("image/gif");
    expect((await human.arrayBuffer()).byteLength).toBeGreaterThan(20);
    await fetch(pixel, { headers: { "user-agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)" } });
    const opens = (await tracking.listForJob(jobId)).filter((e) => e.status === "opened");
    expect(opens.map((o) => o.machine_open)).toEqual([false, true]);
  });

  it("redirects a signed click to its URL and records it; an unsigned or tampered one is 404 and goes nowhere", async () => {
    const token = tokens.sign({ k: "c", j: jobId, u: "https://example.com/offer?id=7" });
    const click = await fetch(`${base}/t/c/${token}`, { redirect: "manual" });
    expect(click.status).toBe(302);
    expect(click.headers.get("location")).toBe("https://example.com/offer?id=7");
    expect((await tracking.listForJob(jobId)).some((e) => e.status === "clicked")).toBe(true);

    const forgedPayload = Buffer.from(
      JSON.stringify({ k: "c", j: jobId, u: "https://evil.example" }),
    ).toString("base64url");
    const forged = await fetch(`${base}/t/c/${forgedPayload}.${token.split(".")[1]}`, { redirect: "manual" });
    expect(forged.status).toBe(404);
    expect(forged.headers.get("location")).toBeNull();
    expect((await fetch(`${base}/t/c/not-a-token`, { redirect: "manual" })).status).toBe(404);
    // A pixel token is not a click token.
    expect(
      (await fetch(`${base}/t/c/${tokens.sign({ k: "o", j: jobId })}`, { redirect: "manual" })).status,
    ).toBe(404);
  });

  it("unsubscribes on the one-click POST only, never on a GET", async () => {
    const url = `${base}/t/u/${tokens.sign({ k: "u", j: jobId, e: "Reader@Example.org" })}`;
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect(await suppressions.find("reader@example.org")).toBeUndefined();
    const done = await fetch(url, { method: "POST", body: "List-Unsubscribe=One-Click" });
    expect(done.status).toBe(200);
    expect(await suppressions.find("reader@example.org")).toMatchObject({
      reason: "unsubscribe",
      source: "list-unsubscribe",
    });
  });

  const rows = async (status: string) =>
    (await tracking.listForJob(jobId)).filter((e) => e.status === status);

  it("keeps one open per job and kind of opener, however often the pixel is fetched", async () => {
    now = Date.now();
    const pixel = `${base}/t/o/${tokens.sign({ k: "o", j: jobId })}.gif`;
    for (let i = 0; i < 20; i++) {
      const agent = i % 2 ? "Mozilla/5.0 Thunderbird" : "GoogleImageProxy";
      const response = await fetch(pixel, { headers: { "user-agent": agent } });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    expect((await rows("opened")).map((o) => o.machine_open).sort()).toEqual([false, true]);
  });

  it("keeps one click per job and URL", async () => {
    now = Date.now();
    const click = `${base}/t/c/${tokens.sign({ k: "c", j: jobId, u: "https://example.com/a" })}`;
    const other = `${base}/t/c/${tokens.sign({ k: "c", j: jobId, u: "https://example.com/b" })}`;
    for (const url of [click, click, click, other, other])
      expect((await fetch(url, { redirect: "manual" })).status).toBe(302);
    const clicked = (await rows("clicked")).map((c) => c.error_message);
    expect(
      clicked.filter((u) => u === "https://example.com/a" || u === "https://example.com/b").sort(),
    ).toEqual(["https://example.com/a", "https://example.com/b"]);
  });

  it("answers 404 to expired opens and unsubscribes, and redirects expired clicks without recording", async () => {
    now = Date.now() - 91 * DAY;
    const open = `${base}/t/o/${tokens.sign({ k: "o", j: jobId })}.gif`;
    const unsubscribe = `${base}/t/u/${tokens.sign({ k: "u", j: jobId, e: "old@example.org" })}`;
    const click = `${base}/t/c/${tokens.sign({ k: "c", j: jobId, u: "https://example.com/old" })}`;
    now = Date.now();
    expect((await fetch(open)).status).toBe(404);
    expect((await fetch(unsubscribe, { method: "POST" })).status).toBe(404);
    expect(await suppressions.find("old@example.org")).toBeUndefined();
    const redirect = await fetch(click, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("https://example.com/old");
    expect((await rows("clicked")).some((c) => c.error_message === "https://example.com/old")).toBe(false);
  });

  it("answers 404, never 500, to a signed click whose URL a Location header cannot carry", async () => {
    now = Date.now();
    // Signed as the service signed any link before it checked their URLs.
    for (const u of [
      "https://example.com/a\r\nSet-Cookie: x=1",
      "https://example.com/\u20ac",
      "javascript:x",
    ]) {
      const response = await fetch(`${base}/t/c/${tokens.sign({ k: "c", j: jobId, u })}`, {
        redirect: "manual",
      });
      expect(response.status, JSON.stringify(u)).toBe(404);
      expect(response.headers.get("location")).toBeNull();
    }
  });
});
