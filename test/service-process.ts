import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningProcess, startProcess } from "./process.ts";

const entry = fileURLToPath(new URL("../cmd/email-worker/main.ts", import.meta.url));

/** The service as a process of its own, on free ports, in a working directory of its own. */
export interface ServiceProcess {
  /** http://127.0.0.1:<port> */
  base: string;
  /** 127.0.0.1:<port> */
  grpcAddress: string;
  process: RunningProcess;
  /** Everything it printed. */
  output(): string;
  /** SIGKILLs it and removes its working directory. */
  stop(): Promise<void>;
}

/**
 * Starts cmd/email-worker/main.ts with `env` (over free HTTP and gRPC ports and info logs) and waits
 * for its start-up line. A process that exits first fails with its output.
 */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const cwd = mkdtempSync(join(tmpdir(), "ew-service-"));
  const running = startProcess(entry, { cwd, env: { PORT: "0", GRPC_PORT: "0", LOG_LEVEL: "info", ...env } });
  const stop = async () => {
    running.child.kill("SIGKILL");
    await running.exit();
    rmSync(cwd, { recursive: true, force: true });
  };
  try {
    await running.waitFor('"msg":"email-worker started"');
  } catch (error) {
    await stop();
    throw error;
  }
  const port = (name: string) => Number(new RegExp(`"${name}":(\\d+)`).exec(running.output())?.[1]);
  return {
    base: `http://127.0.0.1:${port("http_port")}`,
    grpcAddress: `127.0.0.1:${port("grpc_port")}`,
    process: running,
    output: running.output,
    stop,
  };
}

/** Settings that send every email through the SMTP server on `port`, in the clear. */
export function smtpSinkEnv(port: number): Record<string, string> {
  return {
    EMAIL_DEFAULT_PROVIDER: "smtp",
    SMTP_HOST: "127.0.0.1",
    SMTP_PORT: String(port),
    SMTP_USE_TLS: "false",
    SMTP_FROM_EMAIL: "noreply@shop.example",
  };
}
