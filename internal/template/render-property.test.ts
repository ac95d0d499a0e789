import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TemplateError } from "./errors.ts";
import { RenderPool } from "./render-pool.ts";
import { TemplateRenderer } from "./renderer.ts";

const BUDGET_MS = 300;
/** A render that hangs shows as one far past its budget; start-up of a replacement thread is slack. */
const DEADLINE_MS = BUDGET_MS + 3_000;

const pool = new RenderPool({ threads: 2, timeoutMs: BUDGET_MS });
const renderer = new TemplateRenderer({
  source: { get: async () => undefined },
  pool,
  maxTemplateBytes: 512 * 1024,
});
// Starts the threads: content with a block is theirs to render.
beforeAll(() => renderer.renderInline({ text: "{{#if x}}{{x}}{{/if}}" }, { x: 1 }));
afterAll(() => pool.stop());

const names = fc.constantFrom("a", "b", "c", "this", "@root.a", "@root.b", "missing");

/** Templates from text, `{{var}}`, `{{#each}}` and `{{#if}}`: nesting `each` over `@root` is the bomb. */
const template = fc.letrec<{ node: string; nodes: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.string({ maxLength: 8 }).map((text) => text.replaceAll("{", "(").replaceAll("}", ")")),
    names.map((name) => `{{${name}}}`),
    fc.tuple(names, tie("nodes")).map(([name, body]) => `{{#each ${name}}}${body}{{/each}}`),
    // Loops nested over the whole array, as the attack does: often past the budget.
    fc
      .tuple(fc.integer({ min: 1, max: 5 }), tie("node"))
      .map(([depth, body]) => "{{#each @root.a}}".repeat(depth) + body + "{{/each}}".repeat(depth)),
    fc
      .tuple(names, tie("nodes"), tie("nodes"))
      .map(([name, yes, no]) => `{{#if ${name}}}${yes}{{else}}${no}{{/if}}`),
  ),
  nodes: fc.array(tie("node"), { maxLength: 3 }).map((parts) => parts.join("")),
})).nodes;

const value = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.integer(),
  fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 10 }),
);
/** `a` is the list the nested loops walk: long enough that four levels are past the budget. */
const data = fc.record({
  a: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 60 }),
  b: value,
  c: value,
});

describe("rendering random templates", () => {
  it("succeeds or fails with a TemplateError, never past the budget", async () => {
    await fc.assert(
      fc.asyncProperty(template, data, async (text, values) => {
        const started = performance.now();
        const outcome = await renderer.renderInline({ text: `t${text}` }, values).then(
          (email) => ({ email }),
          (error: unknown) => ({ error }),
        );
        expect(performance.now() - started).toBeLessThan(DEADLINE_MS);
        if ("error" in outcome) expect(outcome.error).toBeInstanceOf(TemplateError);
        else expect(outcome.email.text.startsWith("t")).toBe(true);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
