import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "ew-prerequisites-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A PATH holding every command of this one except `tool` (each directory's entries linked into one). */
function pathWithout(tool: string): string {
  const bin = mkdtempSync(join(scratch, "bin-"));
  const linked = new Set<string>();
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries) {
      if (name === tool || linked.has(name)) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
      } catch {
        continue;
      }
      symlinkSync(join(dir, name), join(bin, name));
      linked.add(name);
    }
  }
  return bin;
}

/** Nothing listens on port 1 (tcpmux) on these machines. */
const closedRedis = "redis://127.0.0.1:1/0";

describe("npm test's prerequisite check", () => {
  it("stops npm test before any test runs, naming every missing piece and the command that installs them", () => {
    // The filter names no test file, so even a check that wrongly passed could not recurse into the suite.
    const result = spawnSync("npm", ["test", "--", "scripts/no-such-test"], {
      cwd: root,
      env: { ...process.env, PATH: pathWithout("kcat"), TEST_REDIS_URL: closedRedis },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).not.toBe(0);
    const line = result.stderr.split("\n").find((l) => l.startsWith("npm test: missing "));
    expect(line).toBeDefined();
    expect(line).toContain("kcat");
    expect(line).toContain("Redis at 127.0.0.1:1 (TEST_REDIS_URL)");
    expect(line).toMatch(/install or start them with: npm run setup:test$/);
    expect(result.stdout + result.stderr).not.toMatch(/vitest|RUN\s+v\d/i);
  });

  it("lists every prerequisite with the Debian packages that provide it", () => {
    const result = spawnSync("bash", ["scripts/test-prerequisites.sh", "list"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(result.status).toBe(0);
    const listed = result.stdout.trim().split("\n");
    expect(listed.some((l) => l.startsWith("kcat"))).toBe(true);
    expect(listed.every((l) => /Debian: \S/.test(l))).toBe(true);
  });
});
