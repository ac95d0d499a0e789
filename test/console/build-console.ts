import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Builds the console from its sources before the browser tests, so they never test a stale build. */
export function setup(): void {
  const script = fileURLToPath(new URL("../../scripts/build-console.ts", import.meta.url));
  execFileSync(process.execPath, [script], { stdio: "inherit" });
}
