import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendGridWebhookKeys } from "../sendgrid-signing.ts";
import { until } from "../until.ts";
import { type HostileService, startHostileService } from "./hostile-service.ts";

const ONE_MB = 1024 * 1024;

/**
 * Floods on the endpoints anyone can reach (health probes, webhooks) and sprawl through what a
 * send-scope client chooses (job types): the service stays ready, fast, small and scrapeable.
 */
describe("floods and sprawl", () => {
  let service: HostileService;
  beforeAll(async () => {
    service = await startHostileService({
      WORKER_COUNT: "20",
      WORKER_BATCH_SIZE: "50",
      SENDGRID_WEBHOOK_PUBLIC_KEY: sendGridWebhookKeys().publicKeyBase64,
      SES_TOPIC_ARNS: "arn:aws:sns:us-east-1:123456789012:ses-events",
    });
  });
  afterAll(async () => service?.close());

  it("stays ready and takes a tracked job within a second while 10,000 /health requests arrive", {
    timeout: 120_000,
  }, async () => {
    const total = 10_000;
    let sent = 0;
    const healthStatuses = new Map<number, number>();
    const flood = async () => {
      while (sent < total) {
        sent++;
        const response = await fetch(`${service.base}/health`);
        await response.arrayBuffer();
        healthStatuses.set(response.status, (healthStatuses.get(response.status) ?? 0) + 1);
      }
    };
    const flooding = Promise.all(Array.from({ length: 50 }, flood));

    const readyz: number[] = [];
    const watching = (async () => {
      while (sent < total) {
        const response = await fetch(`${service.base}/readyz`);
        await response.arrayBuffer();
        readyz.push(response.status);
        await sleep(50);
      }
    })();

    await until(async () => sent >= total / 4, 60_000, "the flood to get going");
    const started = performance.now();
    const posted = await service.post("/v1/emails", {
      type: "welcome_email",
      recipient_email: "ada@example.org",
      subject: "Hello",
      text: "Hello Ada",
      tracked: true,
    });
    const latencyMs = performance.now() - started;
    const floodStillRunning = sent < total;
    await Promise.all([flooding, watching]);

    console.info(`tracked POST during the /health flood: ${posted.status} in ${latencyMs.toFixed(0)} ms`);
    expect(floodStillRunning).toBe(true);
    expect(posted.status).toBe(202);
    // A bound on a stall (the flood used to hold it for 5 s), not a speed check.
    expect(latencyMs).toBeLessThan(1_000);
    expect(Object.fromEntries(healthStatuses)).toEqual({ 200: total });
    expect(readyz.length).toBeGreaterThan(0);
    expect(readyz.every((status) => status === 200)).toBe(true);
  });

  it("keeps its memory flat under floods of large unsigned webhook and intake posts", {
    timeout: 120_000,
  }, async () => {
    const body = Buffer.alloc(15 * ONE_MB, "a");
    // Unsigned, or signed with made-up values: refused before (SendGrid, intake) or after at most
    // 1 MiB (SES, whose signature is inside the body) of the body is read.
    const targets: [string, Record<string, string>][] = [
      ["/webhooks/ses", { "content-type": "text/plain" }],
      ["/webhooks/sendgrid", {}],
      [
        "/webhooks/sendgrid",
        {
          "x-twilio-email-event-webhook-signature": Buffer.alloc(72).toString("base64"),
          "x-twilio-email-event-webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        },
      ],
      ["/v1/emails", { "x-api-key": "not-a-key" }],
    ];
    // Warm up (JIT, buffers) before the baseline.
    for (const [path, headers] of targets) await attack(path, headers, Buffer.alloc(1024));
    await sleep(500);
    const baseline = service.rssBytes();
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, service.rssBytes());
        await sleep(20);
      }
    })();

    const outcomes = new Map<string, number>();
    for (let round = 0; round < 3; round++)
      await Promise.all(
        targets.flatMap(([path, headers]) =>
          Array.from({ length: 16 }, async () => {
            const outcome = `${path} ${await attack(path, headers, body)}`;
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          }),
        ),
      );
    await sleep(500);
    sampling = false;
    await sampler;
    const after = service.rssBytes();
    console.info(
      `RSS under 192 × 15 MB unsigned posts: ${mb(baseline)} → peak ${mb(peak)} → ${mb(after)} MB; answers ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    expect(peak - baseline).toBeLessThan(64 * ONE_MB);
    for (const outcome of outcomes.keys())
      expect(outcome).toMatch(
        /^\/webhooks\/ses (413|400|reset)$|^\/webhooks\/sendgrid (401|403|413|reset)$|^\/v1\/emails (401|reset)$/,
      );
    // Still serving.
    expect((await fetch(`${service.base}/readyz`)).status).toBe(200);
  });

  it("keeps /metrics under 1 MB after 20,000 jobs with distinct types", { timeout: 300_000 }, async () => {
    const total = 20_000;
    const batch = 500;
    for (let first = 0; first < total; first += batch) {
      const jobs = Array.from({ length: batch }, (_, i) => ({
        type: `sprawl_${first + i}`,
        recipient_email: `u${first + i}@example.org`,
        subject: "Hi",
        text: "Hi",
        tracked: (first + i) % 10 === 0,
      }));
      const answer = await service.post("/v1/emails", { jobs });
      expect(answer.status).toBe(207);
    }
    let exposition = "";
    await until(
      async () => {
        exposition = await (await fetch(`${service.base}/metrics`)).text();
        return processed(exposition) >= total;
      },
      240_000,
      "every job to be processed",
    );
    const bytes = Buffer.byteLength(exposition);
    console.info(`/metrics after ${total} distinct job types: ${bytes} bytes`);
    expect(bytes).toBeLessThan(ONE_MB);
    expect(exposition).toMatch(
      /email_jobs_processed_total\{status="sent",job_type="other",provider="smtp"\} \d+/,
    );
    expect(exposition).toMatch(/email_jobs_tracked_total\{job_type="other"\} \d+/);
    const named = new Set([...exposition.matchAll(/job_type="(sprawl_\d+)"/g)].map((m) => m[1]));
    expect(named.size).toBeLessThanOrEqual(100);
  });

  /** POSTs `body` to `path`; the answer's status, or "reset" when the server hung up mid-upload. */
  async function attack(path: string, headers: Record<string, string>, body: Buffer): Promise<string> {
    try {
      const response = await fetch(`${service.base}${path}`, { method: "POST", headers, body });
      await response.arrayBuffer();
      return String(response.status);
    } catch {
      return "reset";
    }
  }
});

const mb = (bytes: number) => (bytes / ONE_MB).toFixed(0);

/** Jobs finished so far, from email_jobs_processed_total. */
function processed(exposition: string): number {
  let sum = 0;
  for (const match of exposition.matchAll(/^email_jobs_processed_total\{[^}]*\} (\d+)$/gm))
    sum += Number(match[1]);
  return sum;
}
