import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { dnsRecords, testDkimKey } from "../../../test/dkim-test-keys.ts";
import { requires } from "../../../test/outside-tools.ts";
import { startProcess } from "../../../test/process.ts";
import { hasPythonDkim, verifyWithPythonDkim } from "../../../test/python-dkim.ts";

const entry = fileURLToPath(new URL("../../../cmd/email-worker/main.ts", import.meta.url));
const pythonDkim = requires("python3-dkim (Debian's /usr/bin/python3)", hasPythonDkim());
const dirs: string[] = [];
const workdir = () => {
  const dir = mkdtempSync(join(tmpdir(), "ew-dkim-main-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("email-worker with DKIM keys", () => {
  it("refuses to start on a key file it cannot read, naming the domain and selector in one line", async () => {
    const cwd = workdir();
    const keys = [{ domain: "shop.example", selector: "s2026", private_key_file: join(cwd, "missing.pem") }];
    const worker = startProcess(entry, {
      cwd,
      env: { PORT: "0", GRPC_PORT: "0", DKIM_KEYS: JSON.stringify(keys) },
    });
    expect((await worker.exit()).code).toBe(1);
    expect(worker.output()).toContain(
      `email-worker: email.dkim: key for domain shop.example selector s2026: cannot read private_key_file ${join(cwd, "missing.pem")} (ENOENT)\n`,
    );
  });

  it.skipIf(pythonDkim.skip)(
    `signs what the outbox writes with the configured key, logging the keys but never the key itself${pythonDkim.label}`,
    async () => {
      const cwd = workdir();
      const key = testDkimKey("shop.example", "ed2026", "ed25519-sha256");
      const worker = startProcess(entry, {
        cwd,
        env: {
          PORT: "0",
          GRPC_PORT: "0",
          OUTBOX_FROM_EMAIL: "noreply@shop.example",
          DKIM_DOMAIN: "shop.example",
          DKIM_SELECTOR: "ed2026",
          DKIM_ALGORITHM: "ed25519-sha256",
          DKIM_PRIVATE_KEY: key.privatePem,
        },
      });
      try {
        await worker.waitFor('"msg":"email-worker started"');
        expect(worker.output()).toContain(
          '"keys":[{"domain":"shop.example","selector":"ed2026","algorithm":"ed25519-sha256"}]',
        );
        const port = Number(/"http_port":(\d+)/.exec(worker.output())?.[1]);
        const sent = await fetch(`http://127.0.0.1:${port}/v1/emails`, {
          method: "POST",
          body: JSON.stringify({
            type: "welcome_email",
            recipient_email: "ada@example.org",
            template_id: "welcome_template",
            template_data: { user_name: "Ada" },
          }),
        });
        expect(sent.status).toBe(202);
        const outbox = join(cwd, "data", "outbox");
        let files: string[] = [];
        for (let i = 0; i < 200 && files.length === 0; i++) {
          files = existsSync(outbox) ? readdirSync(outbox).filter((name) => name.endsWith(".eml")) : [];
          if (files.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const message = readFileSync(join(outbox, files[0] ?? ""));
        expect(verifyWithPythonDkim(message, dnsRecords(key))).toEqual([true]);
        const pemBody = key.privatePem.split("\n")[1] ?? "";
        expect(worker.output()).not.toContain(pemBody);
      } finally {
        worker.child.kill("SIGTERM");
        await worker.exit();
      }
    },
  );
});
