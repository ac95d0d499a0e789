import { afterAll, describe, expect, it } from "vitest";
import { CachedTemplateSource } from "./cached-template-source.ts";
import { TemplateError } from "./errors.ts";
import { RenderPool } from "./render-pool.ts";
import { type TemplateDefinition, TemplateRenderer } from "./renderer.ts";

const pool = new RenderPool({ threads: 1, timeoutMs: 5_000 });
afterAll(() => pool.stop());

function row(overrides: Partial<TemplateDefinition> = {}): TemplateDefinition {
  return {
    id: "welcome_template",
    subject: "Welcome {{user_name}}",
    html_template: "<p>Hello {{user_name}}</p>",
    text_template: "Hello {{user_name}}",
    variables: ["user_name"],
    is_active: true,
    updated_at: new Date("2026-01-01T00:00:00Z"),
    ...overrides,
  };
}

function rendererWith(rows: TemplateDefinition[]) {
  const store = new Map(rows.map((r) => [r.id, r]));
  const renderer = new TemplateRenderer({
    source: { get: async (id) => store.get(id) },
    pool,
    maxTemplateBytes: 512 * 1024,
  });
  return { renderer, store };
}

describe("TemplateRenderer", () => {
  it("escapes data in HTML but not in the subject or text part", async () => {
    const { renderer } = rendererWith([row()]);
    const out = await renderer.renderTemplate("welcome_template", {
      user_name: "<script>alert(1)</script> & Co",
    });
    expect(out.html).toBe("<p>Hello &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</p>");
    expect(out.text).toBe("Hello <script>alert(1)</script> & Co");
    expect(out.subject).toBe("Welcome <script>alert(1)</script> & Co");
  });

  it("renders the Go service's templates unchanged", async () => {
    const go = row({
      subject: "Verify your email address, {{.user_name}}",
      html_template: [
        "<h1>Hello {{.user_name}}</h1>",
        '<a href="{{.verification_url}}">Verify Email</a>',
        "{{if .vip}}<b>VIP</b>{{else}}<i>member</i>{{end}}",
        "<ul>{{range .items}}<li>{{.name}}: {{.qty}}</li>{{end}}</ul>",
        "{{with .account}}<span>{{.plan}}</span>{{end}}",
        "{{/* not shown */}}<p>{{ .user_name }} / {{$.user_name}}</p>",
      ].join(""),
      text_template: "Hello {{.user_name}},\n\nPlease verify your email by visiting: {{.verification_url}}\n",
      variables: ["user_name", "verification_url"],
    });
    const { renderer } = rendererWith([go]);
    const out = await renderer.renderTemplate("welcome_template", {
      user_name: "John Doe",
      verification_url: "https://example.com/verify?token=abc123",
      vip: false,
      items: [
        { name: "Room", qty: 1 },
        { name: "Breakfast", qty: 2 },
      ],
      account: { plan: "gold" },
    });
    expect(out.subject).toBe("Verify your email address, John Doe");
    expect(out.html).toBe(
      '<h1>Hello John Doe</h1><a href="https://example.com/verify?token&#x3D;abc123">Verify Email</a>' +
        "<i>member</i><ul><li>Room: 1</li><li>Breakfast: 2</li></ul><span>gold</span><p>John Doe / John Doe</p>",
    );
    expect(out.text).toBe(
      "Hello John Doe,\n\nPlease verify your email by visiting: https://example.com/verify?token=abc123\n",
    );
  });

  it("refuses Go pipelines it cannot honour, naming the action", async () => {
    const { renderer } = rendererWith([
      row({ html_template: '<p>{{.name | printf "%q"}}</p>', variables: [] }),
    ]);
    const error = await renderer.renderTemplate("welcome_template", {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemplateError);
    expect(error).toMatchObject({ code: "template_syntax", template_id: "welcome_template" });
    expect((error as Error).message).toContain('{{.name | printf "%q"}}');
  });

  it("names a missing required variable", async () => {
    const { renderer } = rendererWith([row({ variables: { user_name: "string", reset_url: "string" } })]);
    const error = await renderer
      .renderTemplate("welcome_template", { user_name: "A" })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "missing_variable",
      variable: "reset_url",
      kind: "invalid_template",
    });
    expect((error as Error).message).toBe(
      'template "welcome_template" needs variable "reset_url" in template_data',
    );
  });

  it("accepts the object-list form of variables and skips optional ones", async () => {
    const { renderer } = rendererWith([
      row({ variables: [{ name: "user_name" }, { name: "coupon", required: false }] }),
    ]);
    await expect(renderer.renderTemplate("welcome_template", { user_name: "A" })).resolves.toBeDefined();
  });

  it("derives the text part from the rendered HTML when the template has none", async () => {
    const { renderer } = rendererWith([
      row({
        text_template: null,
        html_template:
          '<style>p{color:red}</style><h1>Hi {{user_name}}</h1><p>Confirm <a href="https://x.test/c?t=1">here</a>.</p><img src="logo.png">',
      }),
    ]);
    const out = await renderer.renderTemplate("welcome_template", { user_name: "<Ann>" });
    expect(out.text).toBe("Hi <Ann>\n\nConfirm here [https://x.test/c?t=1].");
  });

  it("reports unknown, inactive, empty and malformed templates distinctly", async () => {
    const { renderer } = rendererWith([
      row({ id: "off", is_active: false }),
      row({ id: "empty", html_template: null, text_template: null }),
      row({ id: "broken", html_template: "{{#if x}}never closed", variables: [] }),
    ]);
    const code = (id: string) =>
      renderer.renderTemplate(id, { user_name: "A" }).catch((e: TemplateError) => e.code);
    expect(await code("nope")).toBe("template_not_found");
    expect(await code("off")).toBe("template_inactive");
    expect(await code("empty")).toBe("missing_content");
    expect(await code("broken")).toBe("template_syntax");
  });

  it("compiles once per row version and picks up an edited row", async () => {
    const { renderer, store } = rendererWith([row()]);
    expect((await renderer.renderTemplate("welcome_template", { user_name: "A" })).text).toBe("Hello A");
    store.set(
      "welcome_template",
      row({ text_template: "Hi {{user_name}}!", updated_at: new Date("2026-02-01") }),
    );
    expect((await renderer.renderTemplate("welcome_template", { user_name: "A" })).text).toBe("Hi A!");
  });

  it("renders inline content through the same path", async () => {
    const { renderer } = rendererWith([]);
    const out = await renderer.renderInline(
      { subject: "Order {{.order_id}}\r\nBcc: evil@example.com", html: "<b>{{order_id}}</b>" },
      { order_id: "A<1>" },
    );
    expect(out).toEqual({
      subject: "Order A<1> Bcc: evil@example.com",
      html: "<b>A&lt;1&gt;</b>",
      text: "A<1>",
    });
    await expect(renderer.renderInline({ subject: "only a subject" })).rejects.toThrow(TemplateError);
  });

  it("passes parts without expressions through exactly as written", async () => {
    const { renderer } = rendererWith([]);
    const html = `<p class="x">Fish &amp; chips \\ {not a tag} 'quoted'</p>`;
    const out = await renderer.renderInline(
      { subject: "  Plain\nsubject ", html, text: "a\\b {x}" },
      { x: 1 },
    );
    expect(out).toEqual({ subject: "Plain subject", html, text: "a\\b {x}" });
  });

  it("fills in content that only fills in values without a render thread, and sends the rest to one", async () => {
    class CountingPool extends RenderPool {
      renders = 0;
      override render(...args: Parameters<RenderPool["render"]>) {
        this.renders++;
        return super.render(...args);
      }
    }
    const counting = new CountingPool({ threads: 1, timeoutMs: 5_000 });
    try {
      const rows = new Map([["welcome_template", row()]]);
      const renderer = new TemplateRenderer({
        source: { get: async (id) => rows.get(id) },
        pool: counting,
        maxTemplateBytes: 512 * 1024,
      });
      const stored = await renderer.renderTemplate("welcome_template", { user_name: "Ada & Co" });
      expect(stored).toEqual({
        subject: "Welcome Ada & Co",
        html: "<p>Hello Ada &amp; Co</p>",
        text: "Hello Ada & Co",
      });
      const inline = await renderer.renderInline(
        { subject: "Code {{.code}}", text: "Your code is {{code}}" },
        { code: 123456 },
      );
      expect(inline).toEqual({ subject: "Code 123456", html: undefined, text: "Your code is 123456" });
      await renderer.check({ id: "welcome_template", text_template: "Hi {{user_name}}" });
      expect(counting.renders).toBe(0);

      // A block, a value that is an object, and HTML to derive the text from: a thread's work.
      expect((await renderer.renderInline({ text: "{{#if a}}yes{{/if}}" }, { a: 1 })).text).toBe("yes");
      expect((await renderer.renderInline({ text: "{{a}}" }, { a: { b: 1 } })).text).toBe("[object Object]");
      expect((await renderer.renderInline({ html: "<p>{{a}}</p>" }, { a: "x" })).text).toBe("x");
      expect(counting.renders).toBe(3);
    } finally {
      await counting.stop();
    }
  });
});

describe("CachedTemplateSource", () => {
  it("reads a row once within the TTL, shares concurrent reads, and rereads after invalidate", async () => {
    let reads = 0;
    const source = new CachedTemplateSource({
      ttlMs: 60_000,
      load: async (id) => {
        reads++;
        return row({ id });
      },
    });
    await Promise.all([source.get("a"), source.get("a"), source.get("a")]);
    await source.get("a");
    expect(reads).toBe(1);
    source.invalidate("a");
    await source.get("a");
    expect(reads).toBe(2);
  });

  it("rereads after the TTL", async () => {
    let reads = 0;
    const source = new CachedTemplateSource({
      ttlMs: 10,
      load: async (id) => {
        reads++;
        return row({ id });
      },
    });
    await source.get("a");
    await new Promise((resolve) => setTimeout(resolve, 30));
    await source.get("a");
    expect(reads).toBe(2);
  });
});
