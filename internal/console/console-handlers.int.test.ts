import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryQueueOptions, openStoreWithWelcomeTemplate } from "../../test/embedded-service.ts";
import type { EmbeddedStore } from "../../test/embedded-store.ts";
import { silentLogger } from "../../test/store.ts";
import { MemoryQueue } from "../queue/memory/memory-queue.ts";
import { HealthMonitor } from "../server/http/health-monitor.ts";
import { EmailService } from "../service/email-service.ts";
import { TemplateService } from "../service/template-service.ts";
import { RenderPool } from "../template/render-pool.ts";
import { TemplateRenderer } from "../template/renderer.ts";
import { ConsoleHandlers } from "./console-handlers.ts";

let store: EmbeddedStore;
let queue: MemoryQueue;
let renderPool: RenderPool;
let emails: EmailService;
let handlers: ConsoleHandlers;
const minute = new Date("2026-12-03T10:00:00Z");

beforeAll(async () => {
  store = await openStoreWithWelcomeTemplate();
  queue = new MemoryQueue(memoryQueueOptions());
  renderPool = new RenderPool({ threads: 1, timeoutMs: 5_000 });
  emails = new EmailService({
    queue,
    jobs: store.jobs,
    tracking: store.tracking,
    idempotency: store.idempotency,
    suppressions: store.suppressions,
    defaultMaxRetries: 3,
    logger: silentLogger,
  });
  const renderer = new TemplateRenderer({
    source: { get: (id) => store.templates.get(id) },
    pool: renderPool,
    maxTemplateBytes: 512 * 1024,
  });
  handlers = new ConsoleHandlers({
    emails,
    templates: new TemplateService({ templates: store.templates, renderer, invalidate: () => {} }),
    health: new HealthMonitor({
      version: "test",
      checkQueue: () => queue.stats(),
      checkDatabase: async () => {},
      replicaState: () => "none",
      providers: () => ({ smtp: "closed", ses: "open" }),
      providerErrorRates: () => ({ ses: 0.5 }),
      lastConsumerTick: () => new Date(),
      livenessThresholdMs: 60_000,
    }),
    throughput: { lastHour: async () => [{ minute, sent: 7, failed: 2 }] },
  });
});

afterAll(async () => {
  await renderPool.stop();
  await queue.close();
  await store.close();
});

describe("the console's handlers over the real services", () => {
  it("finds tracked jobs by recipient, status and id, and says what is wrong with a search", async () => {
    const sent = await emails.send({
      type: "welcome_email",
      recipient_email: "grace@example.com",
      template_id: "welcome_template",
      template_data: { user_name: "Grace" },
      tracked: true,
      tags: ["console"],
    });
    const byRecipient = await handlers.searchJobs({ recipient: "grace@example.com" });
    expect(byRecipient.jobs.map((j) => j.id)).toEqual([sent.job_id]);
    expect(byRecipient.jobs[0]).not.toHaveProperty("events");
    expect((await handlers.searchJobs({ id: sent.job_id })).jobs.map((j) => j.id)).toEqual([sent.job_id]);
    expect((await handlers.searchJobs({ id: "not-a-uuid" })).jobs).toEqual([]);
    expect((await handlers.searchJobs({ status: ["pending"], tag: "console" })).jobs).toHaveLength(1);
    expect((await handlers.searchJobs({ status: ["sent"], tag: "console" })).jobs).toHaveLength(0);
    await expect(handlers.searchJobs({ status: ["lost"] })).rejects.toThrow(/unknown status lost/);
    await expect(handlers.searchJobs({ created_after: "yesterday" })).rejects.toThrow(/created_after/);
    await expect(handlers.searchJobs({ recipent: "typo@example.com" })).rejects.toThrow(/recipent/);
  });

  it("shows a job with what can be done to it and its message as it renders", async () => {
    const sent = await emails.send({
      type: "welcome_email",
      recipient_email: "ada@example.com",
      template_id: "welcome_template",
      template_data: { user_name: "Ada" },
      tracked: true,
    });
    const detail = await handlers.job(sent.job_id);
    expect(detail).toMatchObject({
      can_cancel: true,
      can_retry: false,
      job: { id: sent.job_id, status: "pending" },
    });
    const preview = await handlers.jobPreview(sent.job_id);
    expect(preview).toEqual({
      ok: true,
      rendered: {
        subject: "Welcome Ada",
        html: "<p>Hello Ada</p>",
        text: expect.stringContaining("Hello Ada"),
      },
    });
    await expect(handlers.retryJob(sent.job_id)).rejects.toThrow(/only failed jobs can be retried/);
    expect((await handlers.cancelJob(sent.job_id)).job.status).toBe("cancelled");
    expect((await handlers.job(sent.job_id)).can_cancel).toBe(false);
    await expect(handlers.job("b5a1f0de-0000-4000-8000-000000000000")).rejects.toThrow(/no tracked job/);
    await expect(handlers.job("../../etc")).rejects.toThrow(/no tracked job/);
  });

  it("answers a job whose template no longer renders with the reason, not a failure", async () => {
    const sent = await emails.send({
      type: "welcome_email",
      recipient_email: "lin@example.com",
      subject: "Hi {{#if}}",
      html: "<p>x</p>",
      tracked: true,
    });
    const preview = await handlers.jobPreview(sent.job_id);
    expect(preview.ok).toBe(false);
  });

  it("previews a draft as it types: rendered, or its error, missing variables and Go syntax translated", async () => {
    const go = await handlers.previewTemplate({
      template: {
        subject: "Hi {{.name}}",
        html_template: "<p>{{.name}} <script>alert(1)</script></p>",
        text_template: "",
        variables: ["name", "plan"],
      },
      data: { name: "Ada" },
    });
    expect(go.rendered).toBeNull();
    expect(go.error).toMatch(/"plan"/);
    expect(go.missing_variables).toEqual(["plan"]);
    expect(go.translated?.subject).toBe("Hi {{name}}");

    const complete = await handlers.previewTemplate({
      template: {
        subject: "Hi {{.name}}",
        html_template: "<p>{{.name}} <script>alert(1)</script></p>",
        text_template: "",
        variables: ["name", "plan"],
      },
      data: { name: "<b>Ada</b>", plan: "pro" },
    });
    expect(complete.error).toBeNull();
    expect(complete.missing_variables).toEqual([]);
    // Data is escaped into HTML; the template's own markup is the author's, shown only in a sandbox.
    expect(complete.rendered?.html).toBe("<p>&lt;b&gt;Ada&lt;/b&gt; <script>alert(1)</script></p>");

    const broken = await handlers.previewTemplate({
      template: { subject: "Hi {{#each}}", html_template: "<p>x</p>", text_template: "", variables: [] },
      data: {},
    });
    expect(broken.rendered).toBeNull();
    expect(broken.error).toMatch(/Parse error/);
    expect(broken.translated).toBeNull();
  });

  it("refuses to save a template that cannot render, and saves one that can", async () => {
    const edit = {
      name: "Receipt",
      subject: "Receipt {{#if}}",
      html_template: "<p>Thanks</p>",
      text_template: "",
      variables: [],
      is_active: true,
    };
    await expect(handlers.saveTemplate("receipt", edit)).rejects.toMatchObject({ kind: "invalid_template" });
    await expect(handlers.template("receipt")).rejects.toThrow(/does not exist/);
    const saved = await handlers.saveTemplate("receipt", {
      ...edit,
      subject: "Receipt {{order}}",
      variables: ["order"],
    });
    expect(saved.template).toMatchObject({
      id: "receipt",
      subject: "Receipt {{order}}",
      variables: ["order"],
    });
    expect((await handlers.templateList(new URLSearchParams())).templates.map((t) => t.id)).toContain(
      "receipt",
    );
    await expect(handlers.saveTemplate("../x", edit)).rejects.toThrow(/id: letters/);
    expect(await handlers.deleteTemplate("receipt")).toEqual({ deleted: true });
  });

  it("creates a new template under a free id, and refuses one whose id is taken instead of replacing it", async () => {
    const edit = {
      name: "Invoice",
      subject: "Invoice {{number}}",
      html_template: "<p>Your invoice</p>",
      text_template: "",
      variables: ["number"],
      is_active: true,
      create: true,
    };
    try {
      expect((await handlers.saveTemplate("invoice", edit)).template).toMatchObject({
        id: "invoice",
        name: "Invoice",
      });
      await expect(
        handlers.saveTemplate("invoice", { ...edit, name: "Someone else's", subject: "Other" }),
      ).rejects.toMatchObject({
        kind: "conflict",
        code: "template_exists",
        message: /"invoice" already exists/,
      });
      expect((await handlers.template("invoice")).template).toMatchObject({
        name: "Invoice",
        subject: "Invoice {{number}}",
      });
      // Editing an existing one (no create flag) still saves over it.
      const edited = await handlers.saveTemplate("invoice", { ...edit, create: false, name: "Invoice v2" });
      expect(edited.template.name).toBe("Invoice v2");
    } finally {
      await handlers.deleteTemplate("invoice");
    }
  });

  it("adds, finds and removes a suppression with its reason and source", async () => {
    const added = await handlers.addSuppression({
      email: "Noisy@Example.com",
      reason: "complaint",
      details: "said so",
    });
    expect(added.suppression).toMatchObject({ reason: "complaint", source: "console", details: "said so" });
    const found = await handlers.suppressions({ contains: "noisy" });
    expect(found.suppressions.map((s) => s.email.toLowerCase())).toEqual(["noisy@example.com"]);
    await expect(handlers.addSuppression({ email: "not an address", reason: "manual" })).rejects.toThrow(
      /email/,
    );
    await expect(handlers.addSuppression({ email: "a@example.com", reason: "dislike" })).rejects.toThrow(
      /reason/,
    );
    expect(await handlers.removeSuppression({ email: added.suppression.email })).toEqual({ removed: true });
    expect((await handlers.suppressions({ contains: "noisy" })).suppressions).toEqual([]);
  });

  it("lists dead letters with their cause and a bounded body, and replays after a dry run", async () => {
    const [delivery] = await queue.fetch(1);
    if (!delivery) throw new Error("no delivery");
    await queue.deadLetter(delivery, "malformed message: console test");
    const page = await handlers.deadLetters({ reason: "console test" });
    const letter = page.dead_letters.find((l) => l.body === delivery.body);
    expect(letter).toMatchObject({ cause: "malformed", body_truncated: false, lane: "normal" });
    const id = letter?.id as string;
    const dry = await handlers.replayDeadLetters({ ids: [id, "missing-id"], dry_run: true });
    expect(dry).toEqual({ replayed: [id], missing: ["missing-id"], dry_run: true });
    expect((await handlers.deadLetters({})).dead_letters.map((l) => l.id)).toContain(id);
    expect(await handlers.replayDeadLetters({ ids: [id], dry_run: false })).toEqual({
      replayed: [id],
      missing: [],
      dry_run: false,
    });
    expect((await handlers.deadLetters({})).dead_letters.map((l) => l.id)).not.toContain(id);
    await expect(handlers.replayDeadLetters({ dry_run: false })).rejects.toThrow();
  });

  it("gives the overview: queue, tracked counts, throughput, health and providers", async () => {
    const overview = await handlers.overview();
    expect(overview.driver).toBeTypeOf("string");
    expect(Object.keys(overview.queue.lanes).sort()).toEqual(["critical", "high", "low", "normal"]);
    expect(overview.throughput).toEqual([{ minute: minute.toISOString(), sent: 7, failed: 2 }]);
    expect(overview.health).toMatchObject({ version: "test", replica: "none", draining: false });
    expect(overview.providers).toEqual([
      { name: "smtp", circuit: "closed", error_rate: 0, check: "pending" },
      { name: "ses", circuit: "open", error_rate: 0.5, check: "pending" },
    ]);
    expect(overview.tracked_by_status.cancelled).toBeGreaterThanOrEqual(1);
  });
});
