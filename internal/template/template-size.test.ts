import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { JobValidationError } from "../job/job-validation-error.ts";
import { toGrpcError } from "../server/grpc/grpc-errors.ts";
import { TemplateService } from "../service/template-service.ts";
import type { TemplateRepository } from "../store/template-repository.ts";
import { RenderPool } from "./render-pool.ts";
import { TemplateRenderer } from "./renderer.ts";
import { oversizedTemplate, refuseOversizedInlineTemplate } from "./template-size.ts";

const MAX = 512 * 1024;
/** About 1.9 MB of template: the size that never finished compiling. */
const HUGE = `<p>{{name}}</p>${"<b>{{x}}</b>".repeat(160_000)}`;

describe("template source size", () => {
  it("counts the parts together, inline only those with an expression", () => {
    const half = `{{a}}${"x".repeat(MAX / 2)}`;
    expect(
      oversizedTemplate(
        [
          ["html", half],
          ["text", "small"],
        ],
        MAX,
        true,
      ),
    ).toBeUndefined();
    expect(
      oversizedTemplate(
        [
          ["html", half],
          ["text", half],
        ],
        MAX,
        true,
      ),
    ).toMatchObject({
      fields: ["html", "text"],
      largest: "html",
    });
    expect(oversizedTemplate([["html", "x".repeat(MAX + 1)]], MAX, true)).toBeUndefined();
    expect(oversizedTemplate([["html_template", "x".repeat(MAX + 1)]], MAX, false)).toBeDefined();
    // Multi-byte text is counted in bytes, not characters.
    expect(oversizedTemplate([["text", `{{a}}${"é".repeat(MAX / 2)}`]], MAX, true)).toBeDefined();
  });

  it("intake refuses an inline template over the limit naming the field", () => {
    const error = (() => {
      try {
        refuseOversizedInlineTemplate({ html: HUGE, subject: "Hi {{name}}" }, MAX);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(JobValidationError);
    expect((error as JobValidationError).violations.map((v) => v.field)).toEqual(["subject", "html"]);
    expect((error as Error).message).toContain("over template_max_bytes (524288)");
    // A job naming a stored template sends its own subject as written: nothing to compile.
    expect(() => refuseOversizedInlineTemplate({ template_id: "t", html: HUGE }, MAX)).not.toThrow();
  });

  describe("TemplateService.upsert", () => {
    const pool = new RenderPool({ threads: 1, timeoutMs: 2_000 });
    afterAll(() => pool.stop());
    const saved: string[] = [];
    const templates = {
      upsert: async (t: { id: string }) => void saved.push(t.id),
    } as unknown as TemplateRepository;
    const service = new TemplateService({
      templates,
      renderer: new TemplateRenderer({ source: { get: async () => undefined }, pool, maxTemplateBytes: MAX }),
      invalidate: () => {},
    });
    const template = { name: "n", subject: null, text_template: null, variables: [], is_active: true };

    it("refuses a stored template over the limit with INVALID_ARGUMENT naming the field", async () => {
      const error = await service
        .upsert({ ...template, id: "big", html_template: HUGE })
        .catch((e: unknown) => e);
      const answer = toGrpcError(error, pino({ enabled: false }));
      expect(answer.code).toBe(status.INVALID_ARGUMENT);
      expect(answer.details).toContain("html_template");
      expect(answer.details).toContain("over template_max_bytes (524288)");
      expect(saved).toEqual([]);
    });

    it("saves a template that compiles", async () => {
      await service.upsert({ ...template, id: "ok", html_template: "<p>{{name}}</p>" });
      expect(saved).toEqual(["ok"]);
    });
  });
});
