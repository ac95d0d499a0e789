import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type RunningProcess, startProcess } from "./process.ts";

const serviceEntry = fileURLToPath(new URL("../cmd/email-worker/main.ts", import.meta.url));
const cliEntry = fileURLToPath(new URL("../cmd/emailctl/main.ts", import.meta.url));

export interface EmailctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real service on its embedded default in a working directory of its own, and emailctl for it. */
export interface EmailctlTestService {
  /** The service's working directory (its data/outbox), and emailctl's. */
  cwd: string;
  service: RunningProcess;
  /** The service's gRPC address, 127.0.0.1:<port>. */
  address: string;
  /** Runs emailctl in `cwd` against `address`; never rejects, a failure is a non-zero code. */
  emailctl(...args: string[]): Promise<EmailctlResult>;
  /** SIGTERMs the service, waits for it to end and removes `cwd`. */
  close(): Promise<void>;
}

/**
 * Starts cmd/email-worker/main.ts on free ports in a fresh directory named after `prefix`, as a
 * newcomer would with no settings, and waits for its start-up line.
 */
export async function startEmailctlTestService(prefix: string): Promise<EmailctlTestService> {
  const cwd = mkdtempSync(join(tmpdir(), prefix));
  const service = startProcess(serviceEntry, { cwd, env: { PORT: "0", GRPC_PORT: "0" } });
  const close = async () => {
    service.child.kill("SIGTERM");
    await service.exit();
    rmSync(cwd, { recursive: true, force: true });
  };
  try {
    await service.waitFor('"msg":"email-worker started"');
  } catch (error) {
    await close();
    throw error;
  }
  const address = `127.0.0.1:${/"grpc_port":(\d+)/.exec(service.output())?.[1]}`;
  const emailctl = (...args: string[]): Promise<EmailctlResult> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [cliEntry, ...args],
        { cwd, env: { PATH: process.env.PATH ?? "", EMAILCTL_ADDRESS: address } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  return { cwd, service, address, emailctl, close };
}

/** Checks every 100 ms until `check` holds, for ten seconds at most; the caller asserts after. */
export async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await check()); i++) await sleep(100);
}
