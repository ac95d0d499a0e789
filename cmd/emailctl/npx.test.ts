import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
// A fresh npm cache: npx installs the project into its cache on first use, which is when npm checks
// the package's engines against the Node npm itself runs on.
const cache = mkdtempSync(join(tmpdir(), "ew-npx-"));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

/** `npx emailctl …` as typed in a shell: npm on the system's Node, not on the project's pinned one. */
function npx(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const path = (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => !dir.includes("node_modules"))
    .join(delimiter);
  return new Promise((resolve) => {
    execFile(
      "npx",
      ["emailctl", ...args],
      {
        cwd: root,
        env: { ...process.env, PATH: path, npm_config_cache: cache, npm_config_update_notifier: "false" },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("npx emailctl", () => {
  it("prints its usage without npm's engine warning", async () => {
    const { code, stdout, stderr } = await npx("--help");
    expect(stderr).not.toContain("EBADENGINE");
    expect(stdout).toContain("usage: emailctl");
    expect(code).toBe(0);
  });

  it("still shows a command's own error", async () => {
    const { code, stderr } = await npx("status", "--address", "127.0.0.1:1", "--timeout", "1s");
    expect(stderr).toMatch(/^emailctl: service unavailable/m);
    expect(code).toBe(5);
  });
});
