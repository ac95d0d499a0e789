import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHttpServer, type TestHttpServer } from "../../test/http-server.ts";
import { silentLogger } from "../../test/store.ts";
import { markJobSent } from "../../test/store-queries.ts";
import { LinkEvents } from "./link-events.ts";
import { LinkTokens } from "./link-tokens.ts";

/** The service's own tracking links, over real HTTP, recording into a real database. */
describe("open pixel, click redirects and one-click unsubscribe", () => {
  const tokens = new LinkTokens("tracking-test-secret-0123456789");
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
});
