// Builds the operator console (web/console) into web/console/build: `npm run console:build`.
// The server serves build/index.html for every /admin/ page and build/assets/* as /admin/assets/*;
// hashed names let it cache the assets for ever.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../web/console/", import.meta.url));
const out = `${root}build`;
const started = performance.now();

try {
  rmSync(out, { recursive: true, force: true });
  const result = await build({
    entryPoints: { console: `${root}src/main.tsx`, "console-style": `${root}src/console.css` },
    outdir: `${out}/assets`,
    entryNames: "console-[hash]",
    bundle: true,
    format: "esm",
    minify: true,
    sourcemap: "linked",
    target: ["es2022", "chrome120"],
    jsx: "automatic",
    jsxImportSource: "preact",
    metafile: true,
    logLevel: "silent",
    legalComments: "none",
  });

  // The metafile maps each output back to its entry point: that is how the hashed names are found.
  const outputs = Object.entries(result.metafile.outputs);
  const assetOf = (entry: string): string => {
    const found = outputs.find(([, meta]) => meta.entryPoint?.endsWith(entry));
    if (found === undefined) throw new Error(`esbuild wrote no output for ${entry}`);
    return basename(found[0]);
  };
  const script = assetOf("src/main.tsx");
  const style = assetOf("src/console.css");

  const template = readFileSync(`${root}index.html`, "utf8");
  for (const placeholder of ["%CONSOLE_JS%", "%CONSOLE_CSS%"]) {
    if (!template.includes(placeholder)) throw new Error(`web/console/index.html lacks ${placeholder}`);
  }
  const html = template.replaceAll("%CONSOLE_JS%", script).replaceAll("%CONSOLE_CSS%", style);
  writeFileSync(`${out}/index.html`, html);

  const ms = Math.round(performance.now() - started);
  console.log(
    `console: wrote ${relative(process.cwd(), out)}/index.html, assets/${script}, assets/${style} in ${ms} ms`,
  );
} catch (error) {
  const detail =
    error instanceof Error && "errors" in error && Array.isArray(error.errors)
      ? error.errors
          .map((e: { text: string; location?: { file: string; line: number } | null }) =>
            e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text,
          )
          .join("\n")
      : String(error instanceof Error ? error.message : error);
  console.error(`console build failed:\n${detail}`);
  process.exit(1);
}
