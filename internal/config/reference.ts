import { formatDuration } from "./duration.ts";
import { configSchema } from "./schema.ts";

interface ConfigKeyDoc {
  key: string;
  env: string | undefined;
  default: string;
  doc: string;
  sensitive: boolean;
}

function describeDefault(format: unknown, value: unknown): string {
  if (format === "duration" && typeof value === "number") return formatDuration(value);
  if (Array.isArray(value)) return value.length === 0 ? "[]" : value.join(",");
  if (value === "") return "";
  return String(value);
}

/** Every configuration key with its environment variable, default and description. */
export function configReference(schema: object = configSchema(), prefix = ""): ConfigKeyDoc[] {
  const keys: ConfigKeyDoc[] = [];
  for (const [name, node] of Object.entries(schema)) {
    if (typeof node !== "object" || node === null) continue;
    if ("default" in node) {
      const leaf = node as {
        default: unknown;
        doc?: string;
        env?: string;
        format?: unknown;
        sensitive?: boolean;
      };
      keys.push({
        key: `${prefix}${name}`,
        env: leaf.env,
        default: describeDefault(leaf.format, leaf.default),
        doc: leaf.doc ?? "",
        sensitive: leaf.sensitive === true,
      });
    } else {
      keys.push(...configReference(node, `${prefix}${name}.`));
    }
  }
  return keys;
}

/** The README's configuration table. */
export function configReferenceMarkdown(): string {
  const rows = configReference().map((k) => {
    const env = k.env ? `\`${k.env}\`` : "";
    const value = k.default === "" ? "" : `\`${k.default}\``;
    const doc = `${k.doc}${k.sensitive ? " *Secret: never logged.*" : ""}`.replaceAll("|", "\\|");
    return `| \`${k.key}\` | ${env} | ${value} | ${doc} |`;
  });
  return ["| key | environment | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}
