import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DkimKeyring } from "../../internal/provider/dkim/dkim-keyring.ts";
import { loadDkimKey } from "../../internal/provider/dkim/dkim-keys.ts";
import { DkimSigner } from "../../internal/provider/dkim/dkim-signer.ts";
import { composeMessage } from "../../internal/provider/mime/compose-message.ts";
import { testDkimKey } from "../../test/dkim-test-keys.ts";
import { outgoingEmails } from "../../test/outgoing-email.ts";
import { requires } from "../../test/outside-tools.ts";
import { hasPythonDkim, verifyWithPythonDkim } from "../../test/python-dkim.ts";

const cliEntry = fileURLToPath(new URL("./main.ts", import.meta.url));
const pythonDkim = requires("python3-dkim (Debian's /usr/bin/python3)", hasPythonDkim());

const rsa = testDkimKey("shop.example", "rsa2026");
const ed25519 = testDkimKey("shop.example", "ed2026", "ed25519-sha256");

/** `name IN TXT "a" "b"` → the record's name and value (its strings joined, as resolvers do). */
function parseZoneLine(line: string): { name: string; value: string; strings: string[] } {
  const match = /^(\S+) IN TXT ((?:"[^"]*" ?)+)$/.exec(line);
  if (!match) throw new Error(`not a TXT record line: ${line}`);
  const strings = [...(match[2] ?? "").matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? "");
  return { name: match[1] ?? "", value: strings.join(""), strings };
}

describe("emailctl dkim dns", () => {
  let cwd: string;

  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), "ew-dkim-dns-"));
    writeFileSync(join(cwd, "rsa.pem"), rsa.privatePem, { mode: 0o600 });
    // The RSA key from config.yaml, the Ed25519 one from the single-domain environment variables:
    // both places the service reads.
    writeFileSync(
      join(cwd, "config.yaml"),
      `email:\n  dkim:\n    keys:\n      - domain: shop.example\n        selector: rsa2026\n        private_key_file: ${join(cwd, "rsa.pem")}\n`,
    );
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  function emailctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [cliEntry, ...args],
        {
          cwd,
          env: {
            PATH: process.env.PATH ?? "",
            DKIM_DOMAIN: "shop.example",
            DKIM_SELECTOR: "ed2026",
            DKIM_ALGORITHM: "ed25519-sha256",
            DKIM_PRIVATE_KEY: ed25519.privatePem,
          },
        },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it("prints one TXT record per key, in strings of at most 255 characters", async () => {
    const { code, stdout } = await emailctl("dkim", "dns", "shop.example");
    expect(code).toBe(0);
    const records = stdout.trim().split("\n").map(parseZoneLine);
    expect(records.map((r) => r.name)).toEqual([
      "rsa2026._domainkey.shop.example.",
      "ed2026._domainkey.shop.example.",
    ]);
    expect(records[0]?.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/);
    expect(records[0]?.strings.length).toBe(2);
    expect(records[1]?.value).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    for (const record of records) for (const s of record.strings) expect(s.length).toBeLessThanOrEqual(255);
    // The same records an independent encoding of the public keys gives.
    expect(records.map((r) => r.value)).toEqual([rsa.record, ed25519.record]);
  });

  it.skipIf(pythonDkim.skip)(
    `prints records whose keys verify what the private keys signed${pythonDkim.label}`,
    async () => {
      const { stdout } = await emailctl("dkim", "dns", "news.shop.example");
      const published = Object.fromEntries(
        stdout
          .trim()
          .split("\n")
          .map(parseZoneLine)
          .map((r) => [r.name, r.value]),
      );
      const signer = new DkimSigner(
        new DkimKeyring(
          [rsa, ed25519].map((k) =>
            loadDkimKey({
              domain: k.domain,
              selector: k.selector,
              algorithm: k.algorithm,
              private_key: k.privatePem,
            }),
          ),
        ),
      );
      const email = outgoingEmails({
        job_type: "t",
        subject: "Hi",
        text: "Hello",
        headers: {},
        attachments: [],
      });
      const from = { email: "weekly@news.shop.example" };
      const message = await signer.sign(await composeMessage(email("ada@example.org"), from), from.email);
      const records = Object.fromEntries(
        Object.entries(published).map(([name, value]) => [name.replace(/\.$/, ""), value]),
      );
      expect(verifyWithPythonDkim(message, records)).toEqual([true, true]);
    },
  );

  it("fails with exit 4 for a domain no key signs", async () => {
    const { code, stderr } = await emailctl("dkim", "dns", "elsewhere.example");
    expect(code).toBe(4);
    expect(stderr).toContain("no DKIM key signs mail from elsewhere.example");
  });

  it("fails naming the key when a configured key is bad, without printing it", async () => {
    const bad = mkdtempSync(join(tmpdir(), "ew-dkim-dns-bad-"));
    try {
      const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [cliEntry, "dkim", "dns", "shop.example"],
          {
            cwd: bad,
            env: {
              PATH: process.env.PATH ?? "",
              DKIM_KEYS: JSON.stringify([
                { domain: "shop.example", selector: "s9", private_key: "not a key" },
              ]),
            },
          },
          (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
        ),
      );
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        "emailctl: email.dkim: key for domain shop.example selector s9: not a PEM private key",
      );
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
