import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SpamAssassinReport {
  /** Names of the rules the message hit. */
  rules: string[];
  /** The message as SpamAssassin returned it, its report included: for a failure's message. */
  report: string;
}

/**
 * Runs SpamAssassin offline (-L: no DNS or network tests) on `raw`. Its own empty preferences and
 * no Bayes database, so the result depends on the message alone and nothing is written to $HOME.
 */
export async function spamAssassin(raw: Buffer): Promise<SpamAssassinReport> {
  const dir = mkdtempSync(join(tmpdir(), "ew-spamassassin-"));
  try {
    const prefs = join(dir, "user_prefs");
    writeFileSync(prefs, "use_bayes 0\nbayes_auto_learn 0\n");
    const child = run("spamassassin", ["-L", "-t", "-p", prefs, "--cf=use_bayes 0"], {
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, HOME: dir },
    });
    child.child.stdin?.end(raw);
    const { stdout } = await child;
    const status = /^X-Spam-Status: [\s\S]*?(?=^\S)/m.exec(stdout)?.[0];
    // No status header means no verdict: refuse to read that as "no rules hit".
    if (status === undefined)
      throw new Error(`SpamAssassin gave no X-Spam-Status:\n${stdout.slice(0, 2000)}`);
    const tests = /tests=([\s\S]*?)(?:\s+autolearn=|\s+version=|$)/.exec(
      status.replace(/\r?\n\s+/g, " "),
    )?.[1];
    const rules = (tests ?? "")
      .split(",")
      .map((rule) => rule.trim())
      .filter((rule) => rule !== "" && rule !== "none");
    return {
      rules,
      report: stdout.length > 20_000 ? `${stdout.slice(0, 10_000)}\n…\n${stdout.slice(-10_000)}` : stdout,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rules that say the message is malformed (MIME structure, missing or invalid headers, a broken signature). */
export function malformationRules(rules: readonly string[]): string[] {
  return rules.filter((rule) => /^(?:MIME_|MISSING_|INVALID_|HEADER_)/.test(rule) || rule === "DKIM_INVALID");
}
