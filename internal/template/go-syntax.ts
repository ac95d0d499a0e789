import { TemplateError } from "./errors.ts";

const ACTION = /\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g;
const FIELD = /^\.([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)$/;
const BLOCK = /^(if|range|with)\s+(.+)$/;

/** `.a.b` → `a.b`, `.` → `this`, `$.a` → `@root.a`. */
function path(expression: string): string | undefined {
  if (expression === ".") return "this";
  if (expression.startsWith("$.")) {
    const rest = path(expression.slice(1));
    return rest && rest !== "this" ? `@root.${rest}` : undefined;
  }
  return FIELD.exec(expression)?.[1];
}

/** Whether a template uses Go's text/template actions (`{{.user_name}}`, `{{range .items}}`, `{{end}}`). */
export function isGoTemplate(source: string): boolean {
  for (const match of source.matchAll(ACTION)) {
    const body = match[2] ?? "";
    if (
      body === "end" ||
      body.startsWith(".") ||
      body.startsWith("$.") ||
      /^(range|with|if)\s+[.$]/.test(body)
    )
      return true;
  }
  return false;
}

/**
 * Rewrites a template written for the Go service into Handlebars, so the same text renders the same
 * email: fields, if/else if/else, range (with `.` as the element), with, `{{- -}}` trimming and
 * comments. Pipelines and functions (`{{.x | printf}}`) are refused with the action named, rather
 * than rendered wrongly.
 */
export function goToHandlebars(source: string, templateId?: string): string {
  const open: string[] = [];
  return source.replace(ACTION, (whole, trimLeft: string, body: string, trimRight: string) => {
    const left = trimLeft ? "{{~" : "{{";
    const right = trimRight ? "~}}" : "}}";
    if (body.startsWith("/*") && body.endsWith("*/")) return `{{!-- ${body.slice(2, -2).trim()} --}}`;
    const field = path(body);
    if (field !== undefined) return `${left}${field}${right}`;
    if (body === "else") return `${left}else${right}`;
    if (body === "end") {
      const block = open.pop();
      if (block === undefined) throw syntax(templateId, whole, "has no matching if/range/with");
      return `${left}/${block}${right}`;
    }
    const elseIf = /^else\s+if\s+(.+)$/.exec(body);
    if (elseIf) {
      const condition = path(elseIf[1] ?? "");
      if (condition === undefined) throw syntax(templateId, whole, "uses a condition other than a field");
      return `${left}else if ${condition}${right}`;
    }
    const block = BLOCK.exec(body);
    if (block) {
      const [, keyword = "", argument = ""] = block;
      const target = path(argument);
      if (target === undefined) throw syntax(templateId, whole, "uses an argument other than a field");
      const helper = keyword === "range" ? "each" : keyword;
      open.push(helper);
      return `${left}#${helper} ${target}${right}`;
    }
    if (
      body.startsWith(".") ||
      body.startsWith("$") ||
      /^(printf|len|index|not|and|or|eq|ne|html|js)\b/.test(body)
    )
      throw syntax(templateId, whole, "uses a Go pipeline or function, which is not supported");
    return whole;
  });
}

function syntax(templateId: string | undefined, action: string, problem: string): TemplateError {
  const where = templateId === undefined ? "inline template" : `template "${templateId}"`;
  return new TemplateError("template_syntax", `${where}: ${action} ${problem}`, { template_id: templateId });
}
