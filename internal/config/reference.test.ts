import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configReference, configReferenceMarkdown } from "./reference.ts";

describe("configuration reference", () => {
  it("is the table the README carries", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const match = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    expect(match?.[1], "README is missing the config-reference markers").toBeDefined();
    expect(match?.[1]).toBe(configReferenceMarkdown());
  });

  it("documents every key and gives each an environment variable", () => {
    for (const key of configReference()) {
      expect(key.doc, key.key).not.toBe("");
      expect(key.env, key.key).toMatch(/^[A-Z][A-Z0-9_]*$/);
    }
  });

  it("marks credentials as secrets", () => {
    const secrets = configReference()
      .filter((k) => k.sensitive)
      .map((k) => k.key);
    for (const key of [
      "database.url",
      "database.master_password",
      "database.slave_password",
      "database.password",
      "queue.redis.password",
      "email.providers.sendgrid.api_key",
      "email.providers.ses.secret_key",
      "email.providers.smtp.password",
      "tracking.secret",
    ]) {
      expect(secrets).toContain(key);
    }
  });
});
