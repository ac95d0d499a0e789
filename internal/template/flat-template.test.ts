import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileTemplate, renderCompiled, sandboxedHandlebars } from "./compile-template.ts";
import { TemplateError } from "./errors.ts";
import { flatPart, flatTemplate, renderFlat } from "./flat-template.ts";

const LIMITS = { subject_length: 500, html_bytes: 2_000, text_bytes: 1_000 };
const handlebars = sandboxedHandlebars();

/** What a render thread gives for the same content and data: Handlebars itself. */
function byHandlebars(
  parts: { subject?: string; html?: string; text: string },
  data: Record<string, unknown>,
) {
  try {
    const compiled = compileTemplate(handlebars, "t", parts);
    return { email: renderCompiled(compiled, data, "t", LIMITS, () => "derived") };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function byFlat(parts: { subject?: string; html?: string; text: string }, data: Record<string, unknown>) {
  const flat = flatTemplate(parts);
  if (flat === undefined) return undefined;
  try {
    const email = renderFlat(flat, data, "t", LIMITS);
    return email && { email };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Bodies that are plain paths, Handlebars' or Go's. */
const plainBody = fc.constantFrom(
  "a",
  "b",
  "a.b",
  "a.b.c",
  "s",
  "n",
  "t",
  "nil",
  "missing",
  "missing.deeper",
  "first-name",
  "_u",
  "o",
  "arr",
  "s.length",
  "a.toString",
  "constructor",
  "__proto__",
  "hasOwnProperty",
  ".a",
  ".a.b",
  ".first",
  "$.a",
  "$.a.b",
  "@root.a",
  "@root.a.b",
  " a ",
  "\na\n",
);
/** Bodies that each differ from a plain path in one way Handlebars or Go minds. */
const otherBody = fc.constantFrom(
  "@index",
  "else-x",
  "else_x",
  "end-",
  "this",
  "this.a",
  ".",
  "a/b",
  "../a",
  "a.[b]",
  "a..b",
  "a.0",
  "0",
  "true",
  "null",
  "if",
  "each",
  "lookup",
  "log",
  "else",
  "end",
  "html",
  "len",
  "or",
  "~a",
  "a~",
  "- .a",
  ".a -",
  "-a",
  "a-",
  "!a",
  "!-- a --",
  "#if a",
  "/if",
  "^a",
  "> a",
  "&a",
  "lookup . 'a'",
  "a b",
  "'a'",
  "/* c */",
);
const body = fc.oneof({ arbitrary: plainBody, weight: 6 }, { arbitrary: otherBody, weight: 1 });

const literal = fc
  .array(
    fc.oneof(
      {
        arbitrary: fc.constantFrom("x", " ", "\n", "&", "<", ">", '"', "'", "=", "`", "{", "}", "é"),
        weight: 20,
      },
      { arbitrary: fc.constantFrom("\\", "\0"), weight: 1 },
    ),
    { maxLength: 4 },
  )
  .map((chars) => chars.join(""));

const mustache = fc.oneof(
  { arbitrary: body.map((b) => `{{${b}}}`), weight: 12 },
  { arbitrary: body.map((b) => `{{{${b}}}}`), weight: 3 },
  { arbitrary: body.map((b) => `{{${b}}`), weight: 1 },
  { arbitrary: body.map((b) => `{{{{${b}}}}}`), weight: 1 },
);

const source = fc
  .array(fc.oneof({ arbitrary: mustache, weight: 3 }, { arbitrary: literal, weight: 2 }), { maxLength: 5 })
  .map((pieces) => pieces.join(""));

const leaf = fc.oneof(
  fc.constantFrom("", "x", "<b>&'\"=`</b>", "é", "a\nb", "1e21"),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
);
const datum = fc.oneof(
  { arbitrary: leaf, weight: 4 },
  fc.array(leaf, { maxLength: 3 }),
  fc.dictionary(fc.constantFrom("a", "b", "c", "b"), leaf, { maxKeys: 2 }),
);
const data = fc
  .record({
    a: fc.oneof(datum, fc.record({ b: fc.oneof(datum, fc.record({ c: datum })) })),
    b: datum,
    s: fc.string({ maxLength: 5 }),
    n: fc.integer(),
    t: fc.boolean(),
    nil: fc.constant(null),
    "first-name": datum,
    _u: datum,
    o: fc.constant({ x: 1 }),
    arr: fc.array(fc.integer(), { maxLength: 3 }),
    first: datum,
  })
  // Data arrives as JSON: the same shapes and own properties a job's template_data has.
  .map((record) => JSON.parse(JSON.stringify(record)) as Record<string, unknown>);

describe("flat templates", () => {
  it("fill in exactly what Handlebars renders, or leave the content to it", () => {
    let filled = 0;
    let runs = 0;
    fc.assert(
      fc.property(source, source, source, data, (subject, html, text, values) => {
        runs++;
        const parts = { subject, html, text: `t${text}` };
        const flat = byFlat(parts, values);
        if (flat === undefined) return;
        filled++;
        expect(flat).toEqual(byHandlebars(parts, values));
      }),
      { numRuns: 5_000 },
    );
    // Enough of the random content was flat for the comparison to mean something.
    expect(filled / runs).toBeGreaterThan(0.05);
  });

  it("reads values, Go fields and triple-stashes as flat, and anything more as not", () => {
    expect(flatPart("Hi {{name}}, {{ a.b }} {{{raw}}} {{@root.x}} {{.go_field}} {{$.top}}", true)).toEqual([
      "Hi ",
      { path: ["name"], root: false, escape: true },
      ", ",
      { path: ["a", "b"], root: false, escape: true },
      " ",
      { path: ["raw"], root: false, escape: false },
      " ",
      { path: ["x"], root: true, escape: true },
      " ",
      { path: ["go_field"], root: false, escape: true },
      " ",
      { path: ["top"], root: true, escape: true },
    ]);
    expect(flatPart("no expressions", false)).toEqual(["no expressions"]);
    for (const source of [
      "{{#each a}}x{{/each}}",
      "{{#if a}}x{{/if}}",
      "{{> partial}}",
      "{{! comment}}",
      "{{~a}}",
      "{{- .a}}",
      "{{lookup a 'b'}}",
      "{{if}}",
      "{{this}}",
      "{{a b}}",
      "\\{{a}}",
      "{{{{raw}}}}x{{{{/raw}}}}",
      "{{a}}}",
      "{{a",
      "{{range .items}}{{.}}{{end}}",
      "{{html .x}}",
      // Handlebars reads `{{else` and a non-word character as an else; Go's translation, a trailing
      // `-` as trimming (this `{{end-}}` closes no block).
      "{{else-x}}",
      "{{ else-}}",
      "{{.a}} {{end-}}",
    ])
      expect(flatPart(source, true), source).toBeUndefined();
  });

  it("adds numbers and booleans up before any text, as Handlebars' compiled `a + b` does", () => {
    const parts = { subject: "{{a}}{{b}}", html: "{{{a}}}{{{b}}} {{a}}{{b}}", text: "{{a}}{{t}}x{{a}}{{b}}" };
    const values = { a: 1, b: 2, t: true };
    expect(byFlat(parts, values)).toEqual({ email: { subject: "3", html: "3 12", text: "2x12" } });
    expect(byHandlebars(parts, values)).toEqual(byFlat(parts, values));
  });

  it("leaves content with more than a thousand values in a part to a thread", () => {
    expect(flatPart("{{a}}".repeat(1_000), false)).toHaveLength(1_000);
    expect(flatPart("{{a}}".repeat(1_001), false)).toBeUndefined();
  });

  it("leaves content without a text part to a thread, which derives one from the HTML", () => {
    expect(flatTemplate({ html: "<p>{{a}}</p>" })).toBeUndefined();
    expect(flatTemplate({ html: "<p>{{a}}</p>", text: "" })).toBeUndefined();
    expect(flatTemplate({ text: "{{a}}" })).toBeDefined();
  });

  it("leaves objects and arrays to Handlebars, and a subject far over its limit before folding", () => {
    const flat = flatTemplate({ subject: "{{s}}", text: "{{v}}" });
    if (flat === undefined) throw new Error("not flat");
    expect(renderFlat(flat, { v: [1, 2] }, undefined, LIMITS)).toBeUndefined();
    expect(renderFlat(flat, { v: { x: 1 } }, undefined, LIMITS)).toBeUndefined();
    expect(renderFlat(flat, { s: " ".repeat(2_001), v: 1 }, undefined, LIMITS)).toBeUndefined();
    expect(renderFlat(flat, { s: `a${"\n".repeat(1_000)}b`, v: 1 }, undefined, LIMITS)).toEqual({
      subject: "a b",
      html: undefined,
      text: "1",
    });
  });

  it("refuses output over the limits with a render thread's errors, filling in no more than that", () => {
    const flat = flatTemplate({ subject: "{{s}}", html: "{{h}}", text: "{{t}}".repeat(1_000) });
    if (flat === undefined) throw new Error("not flat");
    const refusal = (values: Record<string, unknown>) => {
      try {
        renderFlat(flat, values, "news", LIMITS);
      } catch (error) {
        expect(error).toBeInstanceOf(TemplateError);
        return (error as TemplateError).message;
      }
      return undefined;
    };
    expect(refusal({ h: "é".repeat(1_001) })).toBe('template "news": rendered html over 2000 bytes');
    expect(refusal({ s: "s".repeat(501) })).toBe('template "news": rendered subject over 500 characters');
    // 100,000 characters of output if filled in to the end: refused at the limit.
    expect(refusal({ t: "0123456789".repeat(10) })).toBe('template "news": rendered text over 1000 bytes');
    expect(() =>
      renderFlat(flatTemplate({ text: "x", variables: ["name"] }) as never, {}, "news", LIMITS),
    ).toThrow('template "news" needs variable "name" in template_data');
  });
});
