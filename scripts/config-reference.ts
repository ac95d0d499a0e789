// Prints the configuration table the README carries (`npm run config:reference`), or with --write
// puts it into README.md between its markers.
import { readFileSync, writeFileSync } from "node:fs";
import { configReferenceMarkdown } from "../internal/config/reference.ts";

const table = configReferenceMarkdown();
if (process.argv.includes("--write")) {
  const readme = new URL("../README.md", import.meta.url);
  const text = readFileSync(readme, "utf8");
  const updated = text.replace(
    /(<!-- config-reference:start -->\n)[\s\S]*?(\n<!-- config-reference:end -->)/,
    (_match, start: string, end: string) => `${start}${table}${end}`,
  );
  writeFileSync(readme, updated);
} else {
  console.log(table);
}
