import type { EmailWorkerClient } from "../client/email-worker-client.ts";
import type { Output } from "./output.ts";

export interface CommandContext {
  client: EmailWorkerClient;
  out: Output;
  /** The command's own arguments (after the command words). */
  args: string[];
  readFile: (path: string) => Promise<string>;
}

export type Command = (context: CommandContext) => Promise<void>;
