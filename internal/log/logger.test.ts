import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";
import { maskEmail, maskEmailsInText } from "./mask.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes one JSON object per line with the Go service's Zap fields and the level as a word", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "info", format: "json", destination });
    logger
      .child({ component: "worker" })
      .info(
        { job_id: "j-1", job_type: "welcome_email", status: "completed", duration: 12, tracked: true },
        "done",
      );
    expect(lines[0]).toMatchObject({
      level: "info",
      service: "email-worker",
      component: "worker",
      job_id: "j-1",
      job_type: "welcome_email",
      status: "completed",
      tracked: true,
      msg: "done",
    });
    expect(typeof lines[0]?.time).toBe("string");
  });

  it("writes readable lines in the pretty format, addresses still masked", async () => {
    let text = "";
    const destination = new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    });
    const logger = createLogger({ level: "info", format: "pretty", destination });
    logger.info({ job_id: "j-2", recipient: "ada@example.org" }, "email sent");
    await new Promise((resolve) => setImmediate(resolve));
    expect(text).toMatch(/INFO.*email sent/);
    expect(text).toContain('job_id: "j-2"');
    expect(text).not.toContain("ada@example.org");
    expect(text.trimStart().startsWith("{")).toBe(false);
  });

  it("masks recipient addresses and replaces secrets, at the top and nested", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "info", format: "json", destination });
    logger.info(
      {
        recipient: "john.doe@example.com",
        job: { recipient_email: "ann@example.org", to: ["a@x.io", "b@y.io"] },
        password: "hunter2",
        smtp: { password: "pw", api_key: "SG.secret" },
        headers: { authorization: "Bearer abc", "x-api-key": "k" },
        config: { database: { token: "t" } },
      },
      "sending",
    );
    const line = lines[0] ?? {};
    expect(line.recipient).toBe("j***@example.com");
    expect(line.job).toEqual({ recipient_email: "a***@example.org", to: ["a***@x.io", "b***@y.io"] });
    expect(line.password).toBe("[REDACTED]");
    expect(line.smtp).toEqual({ password: "[REDACTED]", api_key: "[REDACTED]" });
    expect(line.headers).toEqual({ authorization: "[REDACTED]", "x-api-key": "[REDACTED]" });
    expect(line.config).toEqual({ database: { token: "[REDACTED]" } });
    expect(JSON.stringify(lines)).not.toMatch(/hunter2|SG\.secret|john\.doe|Bearer abc/);
  });

  it("masks addresses quoted inside error messages", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "info", format: "json", destination });
    logger.error(
      { err: new Error("550 5.1.1 <bob.smith@example.com>: Recipient address rejected") },
      "failed",
    );
    const err = lines[0]?.err as { message: string; stack: string };
    expect(err.message).toBe("550 5.1.1 <b***@example.com>: Recipient address rejected");
    expect(err.stack).not.toContain("bob.smith");
  });

  it("joins an error's causes into its message once, leaving out a cause its wrapper repeats", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "info", format: "json", destination });
    const root = new Error("rendering took longer than 2000 ms");
    const wrapped = new Error("rendering took longer than 2000 ms", { cause: root });
    logger.error({ err: wrapped }, "failed");
    logger.error({ err: new Error("send failed", { cause: new Error("connection reset") }) }, "failed");
    expect(lines.map((line) => (line.err as { message: string }).message)).toEqual([
      "rendering took longer than 2000 ms",
      "send failed: connection reset",
    ]);
  });

  it("respects the level", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "warn", format: "json", destination });
    logger.info("hidden");
    logger.warn("shown");
    expect(lines.map((l) => l.msg)).toEqual(["shown"]);
  });
});

describe("maskEmail", () => {
  it("keeps the first character and the domain", () => {
    expect(maskEmail("j@example.com")).toBe("j***@example.com");
    expect(maskEmail("not-an-address")).toBe("***");
    expect(maskEmailsInText("to a.b@c.io and x@y.org")).toBe("to a***@c.io and x***@y.org");
  });
});
