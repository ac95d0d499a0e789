import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * proto/ beside internal/: the sources' own, or the copy `npm run build` puts in dist/.
 */
export function protoDir(): string {
  return fileURLToPath(new URL("../../../proto/", import.meta.url));
}

/**
 * The FileDescriptorSet `npm run proto` builds from proto/ with every import (`buf build
 * --as-file-descriptor-set`). It is generated but committed, so that the server needs no protoc at
 * run time; descriptor-set.test.ts fails when it no longer matches the .proto files.
 */
export const DESCRIPTOR_SET_FILE = "email_worker.binpb";

export function readDescriptorSet(): Buffer {
  return readFileSync(`${protoDir()}${DESCRIPTOR_SET_FILE}`);
}
