import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DESCRIPTOR_SET_FILE, protoDir, readDescriptorSet } from "./descriptor-set.ts";

const run = promisify(execFile);

describe("the committed descriptor set", () => {
  it("is byte for byte what `npm run proto` builds from the .proto files now", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descriptor-set-"));
    try {
      const rebuilt = join(dir, DESCRIPTOR_SET_FILE);
      // The same command as package.json's "proto" script, into a temporary file.
      await run("npx", ["buf", "build", protoDir(), "--as-file-descriptor-set", "-o", rebuilt]);
      const fresh = await readFile(rebuilt);
      expect(
        fresh.equals(readDescriptorSet()),
        `proto/${DESCRIPTOR_SET_FILE} is stale: run npm run proto and commit it`,
      ).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
