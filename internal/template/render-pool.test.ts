import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { compileTemplate, renderCompiled, sandboxedHandlebars } from "./compile-template.ts";
import { TemplateError } from "./errors.ts";
import { RenderPool } from "./render-pool.ts";
import { TemplateRenderer } from "./renderer.ts";

const BUDGET_MS = 1_000;
const pool = new RenderPool({ threads: 2, timeoutMs: BUDGET_MS });
const renderer = new TemplateRenderer({
  source: { get: async () => undefined },
  pool,
  maxTemplateBytes: 512 * 1024,
});
beforeAll(async () => {
  // Thread start-up is not part of a render's budget, nor of what these tests time. (A block makes
  // content a thread's to render: content that only fills in values is filled in without one.)
  await Promise.all(items(4).map((i) => renderer.renderInline({ text: "{{#if i}}warm{{/if}}" }, { i })));
});
afterAll(() => pool.stop());
afterEach(() => {
  vi.restoreAllMocks();
});

const items = (n: number) => Array.from({ length: n }, (_, i) => i);
const BOMB =
  "{{#each a}}{{#each @root.a}}{{#each @root.a}}{{#each @root.a}}x{{/each}}{{/each}}{{/each}}{{/each}}";

function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("RenderPool budgets", () => {
  it("fails the nested-each bomb on the time budget while the event loop stays free", async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const started = performance.now();
    delay.enable();
    const error = await failure(renderer.renderInline({ text: BOMB }, { a: items(55) }));
    delay.disable();
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(TemplateError);
    expect(error).toMatchObject({ code: "render_budget", kind: "invalid_template" });
    expect((error as Error).message).toContain(`rendering took longer than ${BUDGET_MS} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS - 50);
    expect(elapsed).toBeLessThan(BUDGET_MS + 1_500);
    // The histogram records each 10 ms tick's full interval: 50 ms means a tick held up by 40 ms.
    expect(delay.count).toBeGreaterThan(BUDGET_MS / 10 / 2);
    expect(delay.percentile(99) / 1e6).toBeLessThan(50);
    expect(delay.max / 1e6).toBeLessThan(50);
  });

  it("replaces a terminated thread; renders queued behind the bomb still succeed", async () => {
    const bomb = failure(renderer.renderInline({ text: BOMB }, { a: items(55) }));
    const others = Array.from({ length: 20 }, (_, i) =>
      renderer.renderInline({ subject: "n{{i}}", text: "{{#if s}}Hello {{i}}{{/if}}" }, { i, s: true }),
    );
    const rendered = await Promise.all(others);
    expect(rendered.map((email) => email.text)).toEqual(items(20).map((i) => `Hello ${i}`));
    expect(await bomb).toMatchObject({ code: "render_budget" });
    expect((await renderer.renderInline({ text: "{{#if x}}after {{x}}{{/if}}" }, { x: 1 })).text).toBe(
      "after 1",
    );
  });

  it("stops compiling a large template (under the size limit) at the time budget", async () => {
    const source = "<b>{{x}}</b>".repeat(16_000); // 192 KB: about 4 s to compile
    const started = performance.now();
    const error = await failure(renderer.check({ id: "slow", html_template: source }));
    expect(error).toMatchObject({ code: "render_budget", template_id: "slow" });
    expect(performance.now() - started).toBeLessThan(BUDGET_MS + 1_500);
  });

  it("fails output over the body limits naming the size budget", async () => {
    const big = "y".repeat(1_000);
    const html = await failure(
      renderer.renderInline(
        { html: "{{#each a}}{{#each @root.a}}{{@root.big}}{{/each}}{{/each}}" },
        { a: items(55), big },
      ),
    );
    expect(html).toMatchObject({ code: "render_budget" });
    expect((html as Error).message).toContain("rendered html over 2097152 bytes");
    const text = await failure(
      renderer.renderInline(
        { text: "{{#each a}}{{#each @root.a}}{{@root.big}}{{/each}}{{/each}}" },
        { a: items(40), big },
      ),
    );
    expect((text as Error).message).toContain("rendered text over 1048576 bytes");
    const subject = await failure(
      renderer.renderInline(
        { subject: "{{#each a}}{{@root.big}}{{/each}}", text: "t {{x}}" },
        { a: items(2), big },
      ),
    );
    expect((subject as Error).message).toContain("rendered subject over 500 characters");
  });

  it("refuses a template source over template_max_bytes before compiling it", async () => {
    const source = `<p>{{name}}</p>${"<b>{{x}}</b>".repeat(160_000)}`; // ~1.9 MB
    const started = performance.now();
    const inline = await failure(renderer.renderInline({ html: source }, {}));
    expect(inline).toMatchObject({ code: "template_too_large", field: "html", kind: "invalid_template" });
    expect((inline as Error).message).toContain("over template_max_bytes (524288)");
    const stored = await failure(renderer.check({ id: "big", html_template: source }));
    expect(stored).toMatchObject({ code: "template_too_large", field: "html_template", template_id: "big" });
    expect(performance.now() - started).toBeLessThan(500);
    // A large body that is not a template is just text: not limited by template_max_bytes.
    const plain = "<p>plain</p>".repeat(160_000);
    expect((await renderer.renderInline({ html: plain, text: "t" })).html).toBe(plain);
  });
});

describe("RenderPool lifecycle", () => {
  it("ends a thread idle for idleMs and starts one again for the next render", async () => {
    const idle = new RenderPool({ threads: 1, timeoutMs: BUDGET_MS, idleMs: 200 });
    const request = {
      op: "inline",
      key: undefined,
      templateId: undefined,
      parts: { text: "{{#if x}}x is {{x}}{{/if}}" },
      data: { x: 1 },
    } as const;
    try {
      expect(idle.threads).toBe(0);
      expect((await idle.render(request)).text).toBe("x is 1");
      expect(idle.threads).toBe(1);
      await vi.waitFor(() => expect(idle.threads).toBe(0), { timeout: 5_000, interval: 50 });
      expect((await idle.render({ ...request, data: { x: 2 } })).text).toBe("x is 2");
      expect(idle.threads).toBe(1);
    } finally {
      await idle.stop();
    }
  });

  it("stops idempotently, before start too, failing pending and later renders as unavailable", async () => {
    const unused = new RenderPool({ threads: 1, timeoutMs: BUDGET_MS });
    await unused.stop();
    await unused.stop();
    const request = {
      op: "inline",
      key: undefined,
      templateId: undefined,
      parts: { text: "{{x}}" },
      data: {},
    } as const;
    await expect(unused.render(request)).rejects.toMatchObject({ kind: "unavailable" });
    const busy = new RenderPool({ threads: 1, timeoutMs: BUDGET_MS });
    const pending = failure(busy.render(request));
    await busy.stop();
    expect(await pending).toMatchObject({ kind: "unavailable" });
  });
});

describe("RenderPool priorities", () => {
  it("gives a waiting critical render to the thread before low ones that waited longer", async () => {
    const single = new RenderPool({ threads: 1, timeoutMs: BUDGET_MS, depth: 1 });
    try {
      const inline = (text: string) =>
        ({ op: "inline", key: undefined, templateId: undefined, parts: { text }, data: {} }) as const;
      await single.render(inline("warm"));
      const finished: string[] = [];
      const track = (name: string, rendering: Promise<unknown>) =>
        rendering.then(() => {
          finished.push(name);
        });
      // The thread is busy with this one while the others queue up behind it.
      const busy = track("busy", single.render({ ...inline(BOMB), data: { a: items(25) } }));
      await new Promise((resolve) => setImmediate(resolve));
      const low = items(5).map((i) => track(`low ${i}`, single.render(inline(`low ${i}`), -1)));
      const critical = track("critical", single.render(inline("critical"), 2));
      await Promise.all([busy, ...low, critical]);
      expect(finished.slice(0, 2)).toEqual(["busy", "critical"]);
      expect(finished.slice(2)).toEqual(items(5).map((i) => `low ${i}`));
    } finally {
      await single.stop();
    }
  });
});

describe("sandbox", () => {
  it("never writes to stdout or stderr: {{log}} is not a helper", async () => {
    const writes: unknown[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => writes.push(chunk) > 0);
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => writes.push(chunk) > 0);
    const error = await failure(renderer.renderInline({ text: '{{log "forged line"}}' }, {}));
    const bare = await renderer.renderInline({ text: "[{{log}}]" }, {});
    const proto = await renderer.renderInline({ text: "[{{constructor.name}}{{a.__proto__}}]" }, { a: {} });
    vi.restoreAllMocks();
    expect(error).toMatchObject({ code: "template_syntax" });
    expect((error as Error).message).toContain('Missing helper: "log"');
    expect(bare.text).toBe("[]");
    expect(proto.text).toBe("[]");
    expect(writes).toEqual([]);
  });

  it("the thread's Handlebars calls no console method, for log or denied prototype access", () => {
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation(() => {}),
    );
    const handlebars = sandboxedHandlebars();
    const limits = { subject_length: 500, html_bytes: 2 ** 21, text_bytes: 2 ** 20 };
    const compiled = compileTemplate(handlebars, undefined, {
      text: "{{constructor}}{{lookup a 'constructor'}}",
    });
    expect(renderCompiled(compiled, { a: {} }, undefined, limits, (h) => h).text).toBe("");
    expect(() => compileTemplate(handlebars, undefined, { text: '{{log "x"}}' })).toThrow(TemplateError);
    handlebars.log(3, "direct");
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});
