import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { dockerfileCmd } from "../test/dockerfile.ts";
import { startProcess } from "../test/process.ts";

const run = promisify(execFile);
const root = new URL("../", import.meta.url);

// No Docker engine runs where the tests do: this rebuilds the image's layout in a directory instead.
describe("Docker image", () => {
  it("runs the built service with the runtime stage's exact command", { timeout: 90_000 }, async () => {
    const cmd = dockerfileCmd();
    expect(cmd[0]).toBe("node");
    // The image's layout: /app/dist from the build stage, config.yaml, production node_modules.
    const app = mkdtempSync(join(tmpdir(), "ew-image-"));
    try {
      const tsc = new URL("node_modules/typescript/bin/tsc", root).pathname;
      await run(process.execPath, [
        tsc,
        "-p",
        new URL("tsconfig.build.json", root).pathname,
        "--outDir",
        join(app, "dist"),
      ]);
      await run(process.execPath, [new URL("scripts/build-console.ts", root).pathname]);
      for (const dir of ["database", "proto", "web/console/build"])
        cpSync(new URL(dir, root), join(app, "dist", dir), { recursive: true });
      cpSync(new URL("config.yaml", root), join(app, "config.yaml"));
      cpSync(new URL("package.json", root), join(app, "package.json"));
      symlinkSync(new URL("node_modules", root).pathname, join(app, "node_modules"));
      const service = startProcess(cmd.at(-1) ?? "", {
        cwd: app,
        env: { PORT: "0", GRPC_PORT: "0", NODE_ENV: "production" },
        nodeArgs: cmd.slice(1, -1),
      });
      await service.waitFor('"msg":"email-worker started"', 60_000);
      // The operator console's built pages are where the compiled service looks for them.
      const port = /"http_port":(\d+)/.exec(service.output())?.[1];
      const page = await fetch(`http://127.0.0.1:${port}/admin/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script type="module" src="\/admin\/assets\/console-[\w-]+\.js">/);
      service.child.kill("SIGTERM");
      expect(await service.exit()).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});
