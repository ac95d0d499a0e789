#!/usr/bin/env node
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import { describeFailure, EXIT, UsageError } from "../../internal/cli/cli-error.ts";
import { resolveCommand, USAGE } from "../../internal/cli/dispatch.ts";
import { consoleOutput } from "../../internal/cli/output.ts";
import { EmailWorkerClient } from "../../internal/client/email-worker-client.ts";
import { parseDuration } from "../../internal/config/duration.ts";

async function main(): Promise<number> {
  const { values, tokens } = parseArgs({
    args: process.argv.slice(2),
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: {
      address: { type: "string" },
      "api-key": { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  // Global flags may stand anywhere; everything else goes to the command.
  const globals = new Set(["address", "api-key", "json", "timeout", "help"]);
  const rest = tokens.flatMap((token) => {
    if (token.kind === "positional") return [token.value];
    if (token.kind === "option" && !globals.has(token.name))
      return token.value === undefined ? [token.rawName] : [token.rawName, token.value];
    return [];
  });
  const out = consoleOutput(values.json === true, process.stdout, process.stderr);
  if (values.help || rest.length === 0) {
    out.print(USAGE);
    return rest.length === 0 && !values.help ? EXIT.usage : EXIT.ok;
  }
  const timeoutMs = parseDuration(typeof values.timeout === "string" ? values.timeout : "10s");
  if (timeoutMs === undefined) throw new UsageError("--timeout must be a duration such as 5s");
  const client = new EmailWorkerClient({
    address: (values.address as string | undefined) ?? process.env.EMAILCTL_ADDRESS ?? "localhost:50060",
    apiKey: (values["api-key"] as string | undefined) ?? process.env.EMAILCTL_API_KEY,
    timeoutMs,
  });
  try {
    const { command, args } = resolveCommand(rest);
    await command({
      client,
      out,
      args,
      readFile: (path) => readFile(path, "utf8"),
      openFile: async (path) => ({ size: (await stat(path)).size, chunks: createReadStream(path) }),
    });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } finally {
    client.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const { message, exitCode } = describeFailure(error);
    console.error(`emailctl: ${message}`);
    process.exit(exitCode);
  },
);
