import type { EmailWorkerClient } from "../client/email-worker-client.ts";
import type { Output } from "./output.ts";

export interface CommandContext {
  client: EmailWorkerClient;
  out: Output;
  /** The command's own arguments (after the command words). */
  args: string[];
  readFile: (path: string) => Promise<string>;
  /** A file read as it goes (uploads of any size), with its size for progress. */
  openFile: (path: string) => Promise<{ size: number; chunks: AsyncIterable<Uint8Array> }>;
  /** Waits between polls (watch); a test may make it instant. */
  sleep?: (ms: number) => Promise<void>;
}

export type Command = (context: CommandContext) => Promise<void>;
