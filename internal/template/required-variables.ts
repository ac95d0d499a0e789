import { TemplateError } from "./errors.ts";

/**
 * The `variables` column names what a template needs. Accepted shapes, all found in the wild:
 * `["user_name", "url"]`, `{"user_name": "string"}`, and
 * `[{"name": "user_name", "required": true}]` (entries with `required: false` are documentation).
 */
export function requiredVariables(variables: unknown): string[] {
  if (Array.isArray(variables)) {
    return variables.flatMap((entry) => {
      if (typeof entry === "string") return [entry];
      if (typeof entry === "object" && entry !== null && typeof entry.name === "string")
        return entry.required === false ? [] : [entry.name];
      return [];
    });
  }
  if (typeof variables === "object" && variables !== null) return Object.keys(variables);
  return [];
}

function lookup(data: Record<string, unknown>, name: string): unknown {
  let value: unknown = data;
  for (const part of name.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function checkRequiredVariables(
  required: readonly string[],
  data: Record<string, unknown>,
  templateId: string | undefined,
): void {
  for (const name of required) {
    const value = lookup(data, name);
    if (value === undefined || value === null) {
      const where = templateId === undefined ? "inline template" : `template "${templateId}"`;
      throw new TemplateError("missing_variable", `${where} needs variable "${name}" in template_data`, {
        template_id: templateId,
        variable: name,
      });
    }
  }
}
