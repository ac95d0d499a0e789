import { fileURLToPath } from "node:url";
import { startProcess } from "./process.ts";

export interface SinkStats {
  total: number;
  per_job: Record<string, number>;
  /** Envelope recipients (lower case), with how many messages each got. */
  per_recipient: Record<string, number>;
  received_at: Record<string, number>;
}

export interface SinkProcess {
  smtpPort: number;
  /** Its process id: SIGSTOP and SIGCONT make it stall as a hung relay does. */
  pid: number;
  stats(): Promise<SinkStats>;
  /** How many messages it has received. */
  count(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts test/smtp-sink-main.ts in a child process. */
export async function startSinkProcess(options: { dataDelayMs?: number } = {}): Promise<SinkProcess> {
  const entry = fileURLToPath(new URL("./smtp-sink-main.ts", import.meta.url));
  const child = startProcess(entry, {
    cwd: process.cwd(),
    env: { SINK_DATA_DELAY_MS: String(options.dataDelayMs ?? 0) },
  });
  await child.waitFor("}\n", 15_000);
  const { smtp, http } = JSON.parse(child.output().split("\n")[0] ?? "{}") as { smtp: number; http: number };
  return {
    smtpPort: smtp,
    pid: child.child.pid as number,
    async stats() {
      const response = await fetch(`http://127.0.0.1:${http}/stats`);
      return (await response.json()) as SinkStats;
    },
    async count() {
      const response = await fetch(`http://127.0.0.1:${http}/count`);
      return ((await response.json()) as { total: number }).total;
    },
    async stop() {
      child.child.kill("SIGTERM");
      await child.exit();
    },
  };
}
